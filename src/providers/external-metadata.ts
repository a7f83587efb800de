import { forgetSecrets, registerJitConfig, registerSecret } from '../core/index.ts';
import { renderInstallScript, renderSystemdUnit, isSafeUserName } from './external-install-script.ts';
import type { RunnerTool } from './external-protocol.ts';
import { InstanceTokenSigner, type TokenRefusal } from './external-tokens.ts';

/**
 * The instance-facing half of garm's protocol, transport-free: what a booting instance may ask
 * for (`<metadata-url>/…`) and tell (`<callback-url>/…`), with garm's paths, bodies and status
 * codes (apiserver/routers, controllers/metadata.go, auth/instance_middleware.go). The Fastify
 * listener in external-metadata-server.ts is only an adapter over {@link MetadataService.handle}.
 *
 * A token works only while its instance is `pending` or `installing`, for the create attempt it
 * was issued for, and until it expires: once the instance reports `idle` (runner started) or
 * `failed`, everything it fetched is forgotten and the token stops working, as in garm.
 */

/** The statuses an instance reports (garm's RunnerStatus). */
export const INSTANCE_STATUSES = ['pending', 'installing', 'idle', 'failed', 'active', 'terminated'] as const;

/** One of {@link INSTANCE_STATUSES}. */
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/** What jitpool tells the service about an instance it is creating. */
export interface InstanceRegistration {
  name: string;
  pool: string;
  createAttempt: number;
  labels: readonly string[];
  /** https://github.com/<owner>[/<repo>] */
  registrationUrl: string;
  /** `actions.runner.<owner>[.<repo>]` (garm's service name). */
  serviceName: string;
  tools: readonly RunnerTool[];
  /** The encoded JIT config (secret; memory only). */
  jitConfig: string;
  ttlMs: number;
}

/** What an instance told us, kept for logs() and the provider's view. */
export interface InstanceReport {
  atMs: number;
  status: InstanceStatus;
  message: string;
}

interface Instance {
  registration: Omit<InstanceRegistration, 'jitConfig'>;
  /** File name (`.runner`, …) → base64 content; emptied once the instance is idle or failed. */
  files: Map<string, string>;
  status: InstanceStatus;
  reports: InstanceReport[];
  systemInfo: { osName?: string; osVersion?: string; agentId?: number };
}

/** A transport-free request. */
export interface MetadataRequest {
  method: string;
  /** Path without the query, starting at `/api/v1/`. */
  path: string;
  query: Record<string, string | undefined>;
  authorization: string | undefined;
  body: string;
}

/** A transport-free response. */
export interface MetadataResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** Hooks the provider listens on. */
export interface MetadataEvents {
  /** An instance reported a status (persist it, emit a change). */
  onReport?(name: string, report: InstanceReport): void;
  /** A request was refused (logged by the provider with the reason, never the token). */
  onRefused?(reason: TokenRefusal | 'unknown-instance' | 'wrong-attempt' | 'wrong-pool' | 'finished' | 'no-token', name: string | null): void;
}

const MAX_REPORTS = 50;
const JSON_TYPE = { 'content-type': 'application/json' };

/** The metadata and callback service of one external pool. */
export class MetadataService {
  readonly #signer = new InstanceTokenSigner();
  readonly #instances = new Map<string, Instance>();
  readonly #events: MetadataEvents;
  #baseUrl = '';

  constructor(events: MetadataEvents = {}) {
    this.#events = events;
  }

  /** The public base URL (`http://host:port`) instances reach; set once the listener is up. */
  setBaseUrl(url: string): void {
    this.#baseUrl = url.replace(/\/+$/, '');
  }

  get metadataUrl(): string {
    return `${this.#baseUrl}/api/v1/metadata`;
  }

  get callbackUrl(): string {
    return `${this.#baseUrl}/api/v1/callbacks`;
  }

  /** Registers (or re-registers, for a new attempt) an instance; returns its token. */
  register(registration: InstanceRegistration, nowMs = Date.now()): string {
    const { jitConfig, ...rest } = registration;
    registerJitConfig(jitConfig, registration.name);
    this.#instances.set(registration.name, { registration: rest, files: decodeFiles(jitConfig), status: 'pending', reports: [], systemInfo: {} });
    const token = this.#signer.issue({ name: registration.name, pool: registration.pool, createAttempt: registration.createAttempt }, registration.ttlMs, nowMs);
    registerSecret(token, registration.name);
    return token;
  }

  /** Forgets an instance (deleted): its token stops working, its secrets leave the redaction registry. */
  forget(name: string): void {
    this.#instances.delete(name);
    forgetSecrets(name);
  }

  /** The instance's last reported status and its reports, or null when unknown here. */
  view(name: string): { status: InstanceStatus; reports: readonly InstanceReport[] } | null {
    const instance = this.#instances.get(name);
    return instance ? { status: instance.status, reports: instance.reports } : null;
  }

  /** Answers one request. */
  handle(request: MetadataRequest, nowMs = Date.now()): MetadataResponse {
    const path = request.path.replace(/\/+$/, '');
    const route = matchRoute(request.method, path);
    if (!route) return apiError(404, 'Not Found', 'Not Found');
    const auth = this.#authenticate(request.authorization, nowMs);
    if (!auth) return { status: 401, headers: JSON_TYPE, body: JSON.stringify({ error: 'Authentication failed' }) };
    const { name, instance } = auth;
    switch (route.kind) {
      case 'status':
        return this.#status(name, instance, request.body, nowMs);
      case 'system-info':
        return this.#systemInfo(instance, request.body);
      case 'credentials': {
        const content = instance.files.get(`.${route.file}`);
        if (content === undefined) return apiError(404, 'Not Found', `could not find file ".${route.file}"`);
        const data = Buffer.from(content, 'base64');
        // garm sends `octet-stream`; Fastify normalises it, and curl (all an instance uses) does not look.
        return { status: 200, headers: { 'content-type': 'application/octet-stream', 'content-disposition': `attachment; filename=.${route.file}`, 'content-length': String(data.length) }, body: data };
      }
      case 'registration-token':
        // JIT instances never get a registration token (garm: ErrUnauthorized).
        return apiError(401, 'Not Authorized', '');
      case 'service-name':
        return { status: 200, headers: { 'content-type': 'text/plain' }, body: instance.registration.serviceName };
      case 'unit-file': {
        const user = request.query.runAsUser || 'runner';
        if (!isSafeUserName(user)) return apiError(400, 'Bad Request', 'invalid runAsUser');
        return { status: 200, headers: { 'content-type': 'text/plain' }, body: renderSystemdUnit(`${instance.registration.serviceName}.service`, user) };
      }
      case 'cert-bundle':
        return { status: 200, headers: JSON_TYPE, body: JSON.stringify({}) };
      case 'runner-metadata':
        return { status: 200, headers: JSON_TYPE, body: JSON.stringify(this.#runnerMetadata(instance)) };
      case 'install-script': {
        const token = bearer(request.authorization)!;
        const body = renderInstallScript({
          runnerName: name, labels: instance.registration.labels, metadataUrl: this.metadataUrl, callbackUrl: this.callbackUrl, token,
          tool: instance.registration.tools[0] ?? null, runAsUser: 'runner',
        });
        return { status: 200, headers: { 'content-type': 'text/plain' }, body };
      }
    }
  }

  #authenticate(authorization: string | undefined, nowMs: number): { name: string; instance: Instance } | null {
    const token = bearer(authorization);
    if (token === null) {
      this.#events.onRefused?.('no-token', null);
      return null;
    }
    const verdict = this.#signer.verify(token, nowMs);
    if (!verdict.ok) {
      this.#events.onRefused?.(verdict.reason, null);
      return null;
    }
    const { name, pool, createAttempt } = verdict.claims;
    const instance = this.#instances.get(name);
    const refusal = !instance ? 'unknown-instance'
      : instance.registration.pool !== pool ? 'wrong-pool'
      // A token of an earlier attempt at the same name (garm: "invalid token create attempt").
      : instance.registration.createAttempt !== createAttempt ? 'wrong-attempt'
      : instance.status !== 'pending' && instance.status !== 'installing' ? 'finished'
      : null;
    if (refusal !== null) {
      this.#events.onRefused?.(refusal, name);
      return null;
    }
    return { name, instance: instance! };
  }

  #status(name: string, instance: Instance, body: string, nowMs: number): MetadataResponse {
    const message = parseJson(body);
    const status = message?.status;
    if (!message || (status !== undefined && !INSTANCE_STATUSES.includes(status as InstanceStatus))) return apiError(400, 'Bad Request', 'invalid request');
    const report: InstanceReport = { atMs: nowMs, status: (status as InstanceStatus | undefined) ?? instance.status, message: String(message.message ?? '').slice(0, 1000) };
    instance.status = report.status;
    instance.reports.push(report);
    if (instance.reports.length > MAX_REPORTS) instance.reports.splice(0, instance.reports.length - MAX_REPORTS);
    // Installed or given up: the credentials are not needed again and must not be fetchable again.
    if (report.status !== 'pending' && report.status !== 'installing') instance.files.clear();
    this.#events.onReport?.(name, report);
    return { status: 200, headers: JSON_TYPE, body: '' };
  }

  #systemInfo(instance: Instance, body: string): MetadataResponse {
    const info = parseJson(body);
    if (!info) return apiError(400, 'Bad Request', 'invalid request');
    instance.systemInfo = {
      osName: typeof info.os_name === 'string' ? info.os_name.slice(0, 200) : undefined,
      osVersion: typeof info.os_version === 'string' ? info.os_version.slice(0, 200) : undefined,
      agentId: typeof info.agent_id === 'number' ? info.agent_id : undefined,
    };
    return { status: 200, headers: JSON_TYPE, body: '' };
  }

  #runnerMetadata(instance: Instance): Record<string, unknown> {
    return {
      metadata_access: { callback_url: this.callbackUrl, metadata_url: this.metadataUrl, agent_url: '' },
      forge_type: 'github',
      runner_registration_url: instance.registration.registrationUrl,
      runner_name: instance.registration.name,
      // JIT runners carry their labels in the registration (garm sends none either).
      runner_labels: [],
      agent_mode: false,
      jit_enabled: true,
      runner_tools: instance.registration.tools[0] ?? null,
    };
  }
}

type Route =
  | { kind: 'status' | 'system-info' | 'registration-token' | 'service-name' | 'unit-file' | 'cert-bundle' | 'runner-metadata' | 'install-script' }
  | { kind: 'credentials'; file: string };

const ROUTES: Record<string, Route['kind']> = {
  'POST /api/v1/callbacks/status': 'status',
  'POST /api/v1/callbacks/system-info': 'system-info',
  'GET /api/v1/metadata/runner-registration-token': 'registration-token',
  'GET /api/v1/metadata/system/service-name': 'service-name',
  'GET /api/v1/metadata/systemd/unit-file': 'unit-file',
  'GET /api/v1/metadata/system/cert-bundle': 'cert-bundle',
  'GET /api/v1/metadata/runner-metadata': 'runner-metadata',
  'GET /api/v1/metadata/install-script': 'install-script',
};

function matchRoute(method: string, path: string): Route | null {
  const credentials = /^\/api\/v1\/metadata\/credentials\/([A-Za-z0-9_]{1,64})$/.exec(path);
  if (credentials && method === 'GET') return { kind: 'credentials', file: credentials[1]! };
  const kind = ROUTES[`${method} ${path}`];
  return kind === undefined || kind === 'credentials' ? null : ({ kind } as Route);
}

/** The token of `Authorization: Bearer <token>` (garm splits on one space and wants two parts). */
function bearer(header: string | undefined): string | null {
  const parts = (header ?? '').split(' ');
  return parts.length === 2 && parts[0]!.toLowerCase() === 'bearer' && parts[1]! !== '' ? parts[1]! : null;
}

function apiError(status: number, error: string, details: string): MetadataResponse {
  return { status, headers: JSON_TYPE, body: JSON.stringify({ error, details }) };
}

function parseJson(body: string): Record<string, unknown> | null {
  try {
    const doc = JSON.parse(body) as unknown;
    return doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function decodeFiles(jitConfig: string): Map<string, string> {
  const files = new Map<string, string>();
  try {
    const map = JSON.parse(Buffer.from(jitConfig, 'base64').toString('utf8')) as Record<string, unknown>;
    for (const [name, content] of Object.entries(map)) if (typeof content === 'string' && /^\.[A-Za-z0-9_]+$/.test(name)) files.set(name, content);
  } catch {
    // Not a JIT config: the instance finds no files (404) and reports failed.
  }
  return files;
}
