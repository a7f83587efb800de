// Tests of `jitpool config` (src/cli/config.ts) through the real entry point, kept here beside
// the module they exercise end to end.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';

const MAIN = join(import.meta.dirname, '../cli/main.ts');
const EXAMPLE = join(import.meta.dirname, '../../examples/jitpool.yaml');

function jitpool(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  // Only PATH and HOME from the parent: a JITPOOL_* variable in the developer's shell must not leak in.
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempFile(t: TestContext, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'jitpool-cli-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'jitpool.yaml');
  writeFileSync(file, content);
  return file;
}

const INVALID = `pools:
  - name: linux
    scope: { kind: org, org: acme }
    labels: [x]
    provider: { kind: process, command: [r] }
    max: 0
api: { port: x }
`;

test('config check: exit 0 and "FILE: ok (N pools)" for a valid file', () => {
  const run = jitpool(['config', 'check', '-c', EXAMPLE]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), `${EXAMPLE}: ok (3 pools)`);
});

test('config check: exit 1 listing every problem as FILE:LINE:COL: path: message', (t) => {
  const file = tempFile(t, INVALID);
  const run = jitpool(['config', 'check', '-c', file]);
  assert.equal(run.status, 1);
  assert.ok(run.stdout.includes(`${file}:6:10: pools[0].max: `), run.stdout);
  assert.ok(run.stdout.includes(`${file}:7:14: api.port: `), run.stdout);
});

test('config check --json, with the file from JITPOOL_CONFIG and an env override', (t) => {
  const file = tempFile(t, INVALID);
  const run = jitpool(['config', 'check', '--json'], { JITPOOL_CONFIG: file, JITPOOL_API__PORT: '9090', JITPOOL_POOLS__0__MAX: 'many' });
  assert.equal(run.status, 1);
  const report = JSON.parse(run.stdout) as { ok: boolean; problems: { path: string; envVar?: string }[] };
  assert.equal(report.ok, false);
  assert.deepEqual(report.problems.map((p) => [p.path, p.envVar]), [['pools[0].max', 'JITPOOL_POOLS__0__MAX']]);
});

test('config check: exit 2 for a missing file', (t) => {
  const missing = join(tempFile(t, ''), '..', 'absent.yaml');
  const run = jitpool(['config', 'check', '-c', missing]);
  assert.equal(run.status, 2);
  assert.ok(run.stderr.includes('absent.yaml'));
});

test('config schema prints a JSON Schema', () => {
  const run = jitpool(['config', 'schema']);
  assert.equal(run.status, 0, run.stderr);
  const schema = JSON.parse(run.stdout) as { $schema: string; type: string };
  assert.match(schema.$schema, /json-schema\.org/);
  assert.equal(schema.type, 'object');
});
