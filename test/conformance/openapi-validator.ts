import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { SimExchange } from '../../src/sim/index.ts';

/**
 * Validates REST exchanges and webhook payloads against GitHub's own published descriptions:
 * `@octokit/openapi` (api.github.com, GHEC, GHES) and `@octokit/openapi-webhooks`. Given a method
 * and a templated path it finds the operation, follows `$ref`s to parameters, request bodies and
 * responses, and checks path and query parameters, the JSON request body and the response body
 * for the answered status with ajv. No network: the descriptions are installed packages.
 */

const require = createRequire(import.meta.url);
// ajv-formats is CommonJS with a default export; under Node's ESM interop it may arrive wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/** The REST descriptions shipped in `@octokit/openapi`. */
export type RestDescription = 'api.github.com' | 'ghec' | 'ghes-3.19';

type Json = Record<string, unknown>;

interface Operation {
  doc: RestDescription;
  path: string;
  method: string;
  node: Json;
}

/** Reads one generated description of an installed package. */
function loadJson(packageName: string, file: string): Json {
  const root = dirname(require.resolve(`${packageName}/package.json`));
  return JSON.parse(readFileSync(join(root, 'generated', file), 'utf8')) as Json;
}

/**
 * OpenAPI 3.0 `nullable: true` next to an `enum` that does not list null (GitHub's description
 * does this, e.g. a queued job's `conclusion`): GitHub answers null there, and the description
 * means "nullable", but ajv applies the enum strictly. Adds null to such enums, in place.
 */
function allowNullInNullableEnums(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) allowNullInNullableEnums(item);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const record = node as Json;
  if (record.nullable === true && Array.isArray(record.enum) && !record.enum.includes(null)) record.enum.push(null);
  for (const value of Object.values(record)) allowNullInNullableEnums(value);
}

/** A JSON pointer of path segments, URI-encoded for use in a `$ref`. */
function pointer(segments: readonly string[]): string {
  return segments.map((segment) => `/${encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'))}`).join('');
}

/** The node at a local `#/a/b` reference. */
function resolveLocal(doc: Json, ref: string): { node: Json; segments: string[] } {
  const segments = ref.replace(/^#\//, '').split('/').map((s) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: unknown = doc;
  for (const segment of segments) node = (node as Json | undefined)?.[segment];
  if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  return { node: node as Json, segments };
}

/** Follows `$ref`s of non-schema objects (responses, parameters, request bodies) to the real node and its location. */
function follow(doc: Json, node: Json, segments: string[]): { node: Json; segments: string[] } {
  let current = { node, segments };
  for (let hops = 0; typeof current.node.$ref === 'string' && hops < 10; hops++) current = resolveLocal(doc, current.node.$ref);
  return current;
}

const formatErrors = (where: string, validate: ValidateFunction): string[] =>
  (validate.errors ?? []).slice(0, 8).map((error) => `${where}${error.instancePath || ''} ${error.message ?? 'invalid'}${error.params ? ` ${JSON.stringify(error.params)}` : ''}`);

/** Loads GitHub's REST descriptions once and validates exchanges against them. */
export class OpenApiValidator {
  readonly #docs = new Map<RestDescription, Json>();
  readonly #order: RestDescription[];
  readonly #ajv: Ajv;
  /** Query and path values are strings on the wire: this instance coerces them to the documented types. */
  readonly #ajvCoercing: Ajv;
  readonly #compiled = new Map<string, ValidateFunction>();

  /** Searches the descriptions in this order (e.g. api.github.com, then GHEC for enterprise endpoints). */
  constructor(order: RestDescription[] = ['api.github.com', 'ghec']) {
    this.#order = order;
    this.#ajv = addFormats(new Ajv({ strict: false, allErrors: true, validateSchema: false }));
    this.#ajvCoercing = addFormats(new Ajv({ strict: false, allErrors: true, validateSchema: false, coerceTypes: true }));
    for (const name of order) {
      const doc = loadJson('@octokit/openapi', `${name}.json`);
      allowNullInNullableEnums(doc);
      this.#docs.set(name, doc);
      this.#ajv.addSchema(doc, name);
      this.#ajvCoercing.addSchema(doc, name);
    }
  }

  /** The operation for `method` + templated `path` in the first description that has it. */
  findOperation(method: string, path: string): Operation | null {
    for (const name of this.#order) {
      const doc = this.#docs.get(name) as Json;
      const node = ((doc.paths as Json)[path] as Json | undefined)?.[method.toLowerCase()] as Json | undefined;
      if (node) return { doc: name, path, method: method.toLowerCase(), node };
    }
    return null;
  }

  /** Problems with what the client sent: path and query parameters, and the JSON body. Empty when it conforms. */
  validateRequest(exchange: Pick<SimExchange, 'method' | 'route' | 'params' | 'query' | 'requestBody'>): string[] {
    const op = this.findOperation(exchange.method, exchange.route);
    if (!op) return [`${exchange.method} ${exchange.route}: no such operation in ${this.#order.join(', ')}`];
    const doc = this.#docs.get(op.doc) as Json;
    const base = ['paths', op.path, op.method];
    const problems: string[] = [];
    const params = ((op.node.parameters as Json[] | undefined) ?? []).map((param, index) => follow(doc, param, [...base, 'parameters', String(index)]));
    for (const location of ['path', 'query'] as const) {
      const own = params.filter(({ node }) => node.in === location);
      const schema = {
        type: 'object',
        properties: Object.fromEntries(own.map(({ node, segments }) => [String(node.name), { $ref: `${op.doc}#${pointer([...segments, 'schema'])}` }])),
        required: own.filter(({ node }) => node.required === true).map(({ node }) => String(node.name)),
        additionalProperties: false,
      };
      const values = { ...(location === 'path' ? exchange.params : exchange.query) };
      const validate = this.#ajvCoercing.compile(schema);
      if (!validate(values)) problems.push(...formatErrors(`${exchange.method} ${exchange.route} ${location}`, validate));
    }
    const requestBody = op.node.requestBody as Json | undefined;
    if (requestBody === undefined) {
      if (exchange.requestBody !== undefined && !isEmptyObject(exchange.requestBody)) problems.push(`${exchange.method} ${exchange.route}: sends a body but the operation takes none`);
      return problems;
    }
    const body = follow(doc, requestBody, [...base, 'requestBody']);
    if (exchange.requestBody === undefined) {
      if (body.node.required === true) problems.push(`${exchange.method} ${exchange.route}: the request body is required`);
      return problems;
    }
    const validate = this.#validator(op.doc, [...body.segments, 'content', 'application/json', 'schema']);
    if (!validate(exchange.requestBody)) problems.push(...formatErrors(`${exchange.method} ${exchange.route} body`, validate));
    return problems;
  }

  /**
   * Problems with the answer: a documented status's body against its schema, no body where none
   * is documented (204, 304), and an undocumented error status against `basic-error`.
   */
  validateResponse(exchange: Pick<SimExchange, 'method' | 'route' | 'status' | 'responseBody'>): string[] {
    const where = `${exchange.method} ${exchange.route} → ${exchange.status}`;
    const op = this.findOperation(exchange.method, exchange.route);
    if (!op) return [`${where}: no such operation in ${this.#order.join(', ')}`];
    const doc = this.#docs.get(op.doc) as Json;
    const responses = op.node.responses as Json;
    const documented = responses[String(exchange.status)] as Json | undefined;
    if (documented === undefined) {
      if (exchange.status === 304) return exchange.responseBody === undefined ? [] : [`${where}: a 304 carries no body`];
      if (exchange.status < 400) return [`${where}: status not documented for this operation`];
      const validate = this.#validator(op.doc, ['components', 'schemas', 'basic-error']);
      return validate(exchange.responseBody) ? [] : formatErrors(`${where} body`, validate);
    }
    const response = follow(doc, documented, ['paths', op.path, op.method, 'responses', String(exchange.status)]);
    const content = response.node.content as Json | undefined;
    if (content?.['application/json'] === undefined) {
      return exchange.responseBody === undefined ? [] : [`${where}: documented without a body, but one was sent`];
    }
    const validate = this.#validator(op.doc, [...response.segments, 'content', 'application/json', 'schema']);
    return validate(exchange.responseBody) ? [] : formatErrors(`${where} body`, validate);
  }

  /** Every problem of one exchange, request and response. */
  validateExchange(exchange: SimExchange): string[] {
    return [...this.validateRequest(exchange), ...this.validateResponse(exchange)];
  }

  #validator(doc: RestDescription, segments: string[]): ValidateFunction {
    const ref = `${doc}#${pointer(segments)}`;
    let validate = this.#compiled.get(ref);
    if (!validate) {
      validate = this.#ajv.compile({ $ref: ref });
      this.#compiled.set(ref, validate);
    }
    return validate;
  }
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0;
}

/** Validates webhook payloads against `@octokit/openapi-webhooks` (api.github.com). */
export class WebhookValidator {
  readonly #doc: Json;
  readonly #ajv: Ajv;
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor() {
    this.#doc = loadJson('@octokit/openapi-webhooks', 'api.github.com.json');
    this.#ajv = addFormats(new Ajv({ strict: false, allErrors: true, validateSchema: false }));
    this.#ajv.addSchema(this.#doc, 'webhooks');
  }

  /** Problems of a `<event>` payload with `action` (e.g. `workflow_job` + `queued`), against `webhook-<event>-<action>`. */
  validate(event: string, payload: { action?: unknown }): string[] {
    const name = `webhook-${event}-${String(payload.action)}`.replace(/_/g, '-');
    const schemas = (this.#doc.components as Json).schemas as Json;
    if (schemas[name] === undefined) return [`${event}.${String(payload.action)}: no schema ${name} in the webhooks description`];
    let validate = this.#compiled.get(name);
    if (!validate) {
      validate = this.#ajv.compile({ $ref: `webhooks#${pointer(['components', 'schemas', name])}` });
      this.#compiled.set(name, validate);
    }
    return validate(payload) ? [] : formatErrors(name, validate);
  }
}
