import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkConfig } from './index.ts';

const EXAMPLE = join(import.meta.dirname, '../../examples/external/jitpool.yaml');

test('examples/external/jitpool.yaml is a valid external pool, with the documented defaults filled in', () => {
  const result = checkConfig(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
  const provider = result.config.pools[0]?.provider;
  assert.ok(provider?.kind === 'external');
  assert.equal(provider.interfaceVersion, 'v0.1.1');
  assert.deepEqual(provider.timeouts, { create: 300, delete: 300, query: 60 });
  assert.equal(provider.metadata.port, 9997);
  assert.equal(provider.retries, 2);
});

test('an external pool needs absolute paths and a known interface version; the metadata URL must be a plain base URL', () => {
  const pool = (provider: string) => `pools:\n  - name: ext\n    scope: { kind: org, org: acme }\n    labels: [self-hosted]\n    provider: ${provider}\n`;
  const cases = [
    '{ kind: external, command: garm-provider-lxd, configFile: /etc/p.toml }',
    '{ kind: external, command: /usr/bin/p, configFile: /etc/p.toml, interfaceVersion: v9 }',
    '{ kind: external, command: /usr/bin/p, configFile: /etc/p.toml, metadata: { publicUrl: "http://x/$(id)" } }',
    '{ kind: external, command: /usr/bin/p, configFile: /etc/p.toml, jitConfig: leak }',
  ];
  for (const provider of cases) assert.equal(checkConfig(pool(provider), 'test.yaml').ok, false, provider);
  const ok = checkConfig(pool('{ kind: external, command: /usr/bin/p, configFile: /etc/p.toml }'), 'test.yaml');
  assert.ok(ok.ok && ok.config.pools[0]?.provider.kind === 'external' && ok.config.pools[0].provider.metadata.host === '127.0.0.1');
});
