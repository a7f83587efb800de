import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFakeRunner } from '../src/sim/index.ts';
import type { ComputeInfo, ComputeSpec, Provider, ProviderCapabilities } from '../src/providers/index.ts';

/**
 * For measuring the controller alone: its runners live in another process. The runner host (in
 * the benchmark's parent, beside the simulator) runs the fake runner's logic in-process for each
 * runner it is asked to create; the controller's process reaches it through {@link RemoteProvider},
 * an instant provider over loopback HTTP. So the controller's RSS and CPU are its own, and the
 * runners still speak the real runner protocol to the simulator.
 */

interface HostedRunner {
  info: ComputeInfo;
  abort: AbortController;
}

/** A loopback HTTP server that starts, lists and stops in-process fake runners. */
export interface RunnerHost {
  url: string;
  count(): number;
  close(): Promise<void>;
}

export async function startRunnerHost(): Promise<RunnerHost> {
  const workRoot = mkdtempSync(join(tmpdir(), 'jp-runner-host-'));
  const runners = new Map<string, HostedRunner>();
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => send(res, 500, { error: (err as Error).message }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://host');
    const name = decodeURIComponent(url.pathname.slice('/runners/'.length));
    if (req.method === 'GET' && url.pathname === '/runners') return send(res, 200, [...runners.values()].map((r) => r.info));
    if (req.method === 'POST' && url.pathname === '/runners') {
      const spec = JSON.parse(await body(req)) as ComputeSpec;
      const existing = runners.get(spec.runnerName);
      if (existing) return send(res, 200, existing.info);
      const info: ComputeInfo = {
        computeId: spec.runnerName, runnerId: spec.runnerId, runnerName: spec.runnerName, pool: spec.pool, controllerId: spec.controllerId,
        state: 'running', exitCode: null, isOnline: false, createdAtMs: Date.now(),
      };
      const abort = new AbortController();
      runners.set(spec.runnerName, { info, abort });
      void runFakeRunner({
        jitConfig: spec.jitConfig,
        workDir: join(workRoot, spec.runnerName),
        signal: abort.signal,
        print: (line) => {
          if (line.includes('Listening for Jobs')) info.isOnline = true;
        },
        printError: () => {},
      }).then(
        (code) => Object.assign(info, { state: 'exited', exitCode: code }),
        () => Object.assign(info, { state: 'exited', exitCode: null }),
      );
      return send(res, 201, info);
    }
    if (url.pathname.startsWith('/runners/') && name.length > 0) {
      const runner = runners.get(name);
      if (req.method === 'GET') return runner ? send(res, 200, runner.info) : send(res, 404, { error: 'not found' });
      if (req.method === 'DELETE') {
        runner?.abort.abort();
        runners.delete(name);
        return send(res, 204, null);
      }
    }
    send(res, 404, { error: 'no such route' });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => runners.size,
    close: async () => {
      for (const runner of runners.values()) runner.abort.abort();
      runners.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(workRoot, { recursive: true, force: true });
    },
  };
}

/** The controller's side: an instant provider whose compute is a runner on a {@link RunnerHost}. */
export class RemoteProvider implements Provider {
  readonly kind = 'remote-bench';
  readonly capabilities: ProviderCapabilities = { ownNetwork: false, reportsOnline: true, pushesExit: false };
  readonly #url: string;
  readonly #events = new EventEmitter();
  readonly #seen = new Map<string, string>();
  #timer: NodeJS.Timeout | null = null;

  constructor(url: string) {
    this.#url = url;
  }

  async create(spec: ComputeSpec): Promise<ComputeInfo> {
    return this.#request<ComputeInfo>('POST', '/runners', spec);
  }

  async delete(computeId: string): Promise<void> {
    await this.#request('DELETE', `/runners/${encodeURIComponent(computeId)}`);
  }

  async list(): Promise<ComputeInfo[]> {
    return this.#request<ComputeInfo[]>('GET', '/runners');
  }

  async inspect(computeId: string): Promise<ComputeInfo | null> {
    const response = await fetch(`${this.#url}/runners/${encodeURIComponent(computeId)}`);
    if (response.status === 404) return null;
    return (await response.json()) as ComputeInfo;
  }

  async logs(): Promise<string> {
    return '';
  }

  /** Changes are found by polling the host's list every 250 ms (online, exit). */
  onChange(listener: (info: ComputeInfo) => void): () => void {
    this.#events.on('change', listener);
    this.#timer ??= setInterval(() => void this.#poll().catch(() => {}), 250);
    return () => this.#events.off('change', listener);
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#events.removeAllListeners();
  }

  async #poll(): Promise<void> {
    const infos = await this.list();
    const names = new Set<string>();
    for (const info of infos) {
      names.add(info.computeId);
      const key = `${info.state}:${info.isOnline}:${info.exitCode}`;
      if (this.#seen.get(info.computeId) !== key) {
        this.#seen.set(info.computeId, key);
        this.#events.emit('change', info);
      }
    }
    for (const name of this.#seen.keys()) if (!names.has(name)) this.#seen.delete(name);
  }

  async #request<T>(method: string, path: string, payload?: unknown): Promise<T> {
    const response = await fetch(`${this.#url}${path}`, {
      method,
      headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    if (!response.ok) throw new Error(`runner host: ${method} ${path} answered ${response.status}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  res.writeHead(status, payload === null ? {} : { 'content-type': 'application/json' });
  res.end(payload === null ? undefined : JSON.stringify(payload));
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
