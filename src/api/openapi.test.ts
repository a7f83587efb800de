import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { startTestRuntime } from '../cli/runtime-test-helpers.ts';

/**
 * The structure of an OpenAPI 3.1 document, as far as jitpool's generated one must hold it:
 * info, paths of operations, each operation with responses whose content carries a schema.
 */
const OPENAPI_STRUCTURE = {
  type: 'object',
  required: ['openapi', 'info', 'paths', 'components'],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.1\\.\\d+$' },
    info: { type: 'object', required: ['title', 'version'], properties: { title: { type: 'string', minLength: 1 }, version: { type: 'string', minLength: 1 } } },
    paths: {
      type: 'object',
      propertyNames: { pattern: '^/' },
      additionalProperties: {
        type: 'object',
        propertyNames: { enum: ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'parameters', 'summary', 'description'] },
        additionalProperties: { $ref: '#/$defs/operation' },
      },
    },
    components: {
      type: 'object',
      required: ['schemas', 'securitySchemes'],
      properties: {
        schemas: { type: 'object', additionalProperties: { type: 'object' } },
        securitySchemes: { type: 'object', required: ['bearerAuth'], properties: { bearerAuth: { type: 'object', required: ['type', 'scheme'], properties: { type: { const: 'http' }, scheme: { const: 'bearer' } } } } },
      },
    },
  },
  $defs: {
    operation: {
      type: 'object',
      required: ['responses'],
      properties: {
        summary: { type: 'string' },
        parameters: { type: 'array', items: { type: 'object', required: ['name', 'in'], properties: { in: { enum: ['query', 'path', 'header', 'cookie'] }, schema: { type: 'object' } } } },
        requestBody: { type: 'object', required: ['content'] },
        responses: {
          type: 'object',
          minProperties: 1,
          propertyNames: { pattern: '^([1-5][0-9]{2}|default)$' },
          additionalProperties: { type: 'object', required: ['description'] },
        },
      },
    },
  },
} as const;

const EXPECTED_OPERATIONS = [
  'get /healthz', 'get /health', 'get /readyz', 'get /status', 'get /api/v1/runners', 'post /api/v1/runners', 'get /api/v1/runners/{id}', 'delete /api/v1/runners/{id}',
  'get /api/v1/pools', 'post /api/v1/pools/{name}/scale', 'get /api/v1/jobs', 'get /events', 'get /metrics', 'post /webhook',
];

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 structure with every route, each with schemas that compile', async (t) => {
    const { runtime } = await startTestRuntime(t);
    const res = await runtime.server!.inject({ url: '/docs/json' });
    assert.equal(res.statusCode, 200, 'the document is public, like the UI');
    const doc = res.json() as unknown as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }>; requestBody?: { content: Record<string, { schema: unknown }> }; security?: unknown[] }>>; components: { schemas: Record<string, unknown> } };
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(OPENAPI_STRUCTURE);
    assert.ok(validate(structuredClone(doc)), JSON.stringify(validate.errors, null, 2));

    const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    for (const expected of EXPECTED_OPERATIONS) assert.ok(operations.includes(expected), `${expected} is documented`);
    assert.ok(!operations.some((op) => op.endsWith(' /')), 'the dashboard shell is not an API operation');

    // Every schema in the document compiles, with the components resolvable by $ref.
    const schemaAjv = new Ajv2020({ strict: false });
    addFormats.default(schemaAjv);
    schemaAjv.addSchema({ $id: 'doc', components: doc.components });
    const resolve = (schema: unknown) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/'));
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const label = `${method} ${path}`;
        const success = Object.entries(operation.responses).find(([status]) => status.startsWith('2') || status === 'default');
        assert.ok(success, `${label} documents a success response`);
        if (!['get /events', 'get /metrics'].includes(label)) assert.ok(success[1].content && Object.values(success[1].content)[0]?.schema, `${label} has a response schema`);
        for (const response of Object.values(operation.responses)) {
          for (const media of Object.values(response.content ?? {})) assert.doesNotThrow(() => schemaAjv.compile(resolve(media.schema)), label);
        }
        for (const media of Object.values(operation.requestBody?.content ?? {})) assert.doesNotThrow(() => schemaAjv.compile(resolve(media.schema)), label);
        const isPublic = ['get /healthz', 'get /health', 'get /readyz', 'post /webhook'].includes(label);
        assert.equal(Boolean(operation.security?.length), !isPublic, `${label} ${isPublic ? 'is public' : 'declares bearer auth'}`);
      }
    }
    assert.deepEqual(Object.keys(doc.components.schemas).sort(), ['Error', 'Job', 'Pool', 'Runner']);
    const ui = await runtime.server!.inject({ url: '/docs' });
    assert.ok(ui.statusCode === 200 || ui.statusCode === 302, `/docs serves Swagger UI (got ${ui.statusCode})`);
  });
});
