import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkConfig, configJsonSchema } from './index.ts';

const EXAMPLE = join(import.meta.dirname, '../../examples/jitpool.yaml');

test('examples/jitpool.yaml is valid and shows both scopes and both providers', () => {
  const result = checkConfig(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  assert.deepEqual(result.config.pools.map((pool) => pool.scope.kind), ['repo', 'org', 'org']);
  assert.deepEqual(result.config.pools.map((pool) => pool.provider.kind), ['process', 'process', 'docker']);
  const docker = result.config.pools[2]?.provider;
  assert.ok(docker?.kind === 'docker' && docker.user === '1001:1001' && docker.dockerInDocker === false && docker.cacheVolumes.length === 2);
});

test('the JSON Schema is plain JSON, strict, and leaves defaulted fields optional', () => {
  const schema = JSON.parse(JSON.stringify(configJsonSchema())) as {
    required?: string[];
    additionalProperties?: unknown;
    properties: Record<string, unknown>;
  };
  assert.deepEqual(schema.required, ['pools']);
  assert.equal(schema.additionalProperties, false);
  assert.ok('controllerId' in schema.properties && 'pools' in schema.properties);
});
