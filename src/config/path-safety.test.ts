import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkConfig } from './load.ts';

function config(store: string, provider: string): string {
  return [
    store,
    'pools:',
    '  - name: linux',
    '    scope: { kind: org, org: acme }',
    '    labels: [self-hosted, linux]',
    `    provider: { kind: process, command: [/bin/true]${provider} }`,
  ].join('\n');
}

describe('config check refuses dangerous directories', () => {
  const refused: Array<[string, string, string, RegExp]> = [
    ['workRoot /', 'store: { stateDir: /srv/jitpool }', ', workRoot: /', /pools\[0\]\.provider\.workRoot: \/ is \/ or a system directory/],
    ['workRoot /etc', 'store: { stateDir: /srv/jitpool }', ', workRoot: /etc', /system directory/],
    ['workRoot /home', 'store: { stateDir: /srv/jitpool }', ', workRoot: /home/', /system directory/],
    ['workRoot hidden behind ..', 'store: { stateDir: /srv/jitpool }', ', workRoot: /usr/share/../..', /system directory/],
    ['workRoot = the state directory', 'store: { stateDir: /srv/jitpool }', ', workRoot: /srv/jitpool', /holds the state directory/],
    ['workRoot above the state directory', 'store: { stateDir: /srv/jitpool/state }', ', workRoot: /srv/jitpool', /holds the state directory/],
    ['workRoot holding the database', 'store: { stateDir: /srv/jitpool, sqlitePath: /srv/work/db/jitpool.sqlite }', ', workRoot: /srv/work', /holds the state directory or the database/],
    ['state directory /', 'store: { stateDir: / }', ', workRoot: /srv/work', /store\.stateDir: \/ is \/ or a system directory/],
    ['state directory /var/lib', 'store: { stateDir: /var/lib }', ', workRoot: /srv/work', /store\.stateDir/],
  ];
  for (const [name, store, provider, expected] of refused) {
    it(name, () => {
      const result = checkConfig(config(store, provider), '/etc/jitpool/jitpool.yaml');
      assert.equal(result.ok, false);
      if (!result.ok) assert.match(result.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), expected);
      if (!result.ok) assert.ok(result.problems.every((p) => p.line !== undefined), 'each problem points at its line');
    });
  }

  it('accepts the defaults and a work root of its own', () => {
    assert.equal(checkConfig(config('store: { stateDir: /var/lib/jitpool }', ''), '/etc/jitpool/jitpool.yaml').ok, true);
    assert.equal(checkConfig(config('store: { stateDir: /var/lib/jitpool }', ', workRoot: /srv/runners'), '/etc/jitpool/jitpool.yaml').ok, true);
    assert.equal(checkConfig(config('store: { stateDir: ./state }', ''), '/home/ops/jitpool/jitpool.yaml').ok, true);
  });
});
