import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJitConfig, startSimulator } from '../src/sim/index.ts';
import { runCli } from './cli-helpers.ts';

const APP_ID = 4242;

async function setup(t: import('node:test').TestContext) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const sim = await startSimulator({
    tokens: ['ghp_only_this_pat_is_accepted'],
    app: { id: APP_ID, slug: 'jitpool-test', publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(), installations: [{ id: 777, account: 'acme' }, { id: 888, account: 'solo', accountType: 'User', repositories: ['tool'] }] },
  });
  const dir = mkdtempSync(join(tmpdir(), 'jp-app-'));
  const keyFile = join(dir, 'app.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), { mode: 0o600 });
  t.after(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const app = ['--app-id', String(APP_ID), '--private-key-file', keyFile, '--api-url', sim.url];
  return { sim, dir, keyFile, app };
}

describe('jitpool app', () => {
  it('check: the key loads and the simulator accepts the JWT; a wrong key or App id is refused', async (t) => {
    const { app, dir, sim } = await setup(t);
    const ok = await runCli(['app', 'check', ...app, '--json']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { ok: true, app: { id: APP_ID, slug: 'jitpool-test', name: 'jitpool-test', owner: 'acme' } });
    const other = join(dir, 'other.pem');
    writeFileSync(other, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const wrongKey = await runCli(['app', 'check', '--app-id', String(APP_ID), '--private-key-file', other, '--api-url', sim.url, '--json']);
    assert.equal(wrongKey.code, 2);
    assert.equal((JSON.parse(wrongKey.stdout) as { error: { code: string } }).error.code, 'JP_GITHUB_AUTH');
    const wrongId = await runCli(['app', 'check', ...app.slice(2), '--app-id', '1', '--json']);
    assert.equal((JSON.parse(wrongId.stdout) as { error: { code: string } }).error.code, 'JP_GITHUB_AUTH');
    writeFileSync(join(dir, 'junk.pem'), 'not a key');
    const junk = await runCli(['app', 'check', '--app-id', '1', '--private-key-file', join(dir, 'junk.pem'), '--api-url', sim.url, '--json']);
    assert.equal((JSON.parse(junk.stdout) as { error: { code: string; message: string } }).error.code, 'JP_INPUT_INVALID');
    assert.doesNotMatch(junk.stdout + wrongKey.stdout + ok.stdout, /PRIVATE KEY/);
  });

  it('installation-id: by repository, by organisation, by user; not installed is an error', async (t) => {
    const { app } = await setup(t);
    assert.equal((await runCli(['app', 'installation-id', ...app, '--owner', 'acme', '--repo', 'app'])).stdout, '777\n');
    assert.equal((await runCli(['app', 'installation-id', ...app, '--owner', 'acme'])).stdout, '777\n');
    const user = JSON.parse((await runCli(['app', 'installation-id', ...app, '--owner', 'solo', '--json'])).stdout) as { installationId: number; repositorySelection: string };
    assert.deepEqual(user, { ...user, installationId: 888, repositorySelection: 'selected' });
    const missing = await runCli(['app', 'installation-id', ...app, '--owner', 'nobody', '--json']);
    assert.equal(missing.code, 2);
    assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, 'JP_GITHUB_NOT_FOUND');
  });

  it('token: a 0600 file replaced atomically, a status file without the token, and the token works', async (t) => {
    const { app, dir, sim } = await setup(t);
    const out = join(dir, 'gh-token');
    const statusOut = join(dir, 'status.json');
    const result = await runCli(['app', 'token', ...app, '--owner', 'acme', '--out', out, '--status-out', statusOut, '--json']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const token = readFileSync(out, 'utf8').trim();
    assert.match(token, /^ghs_/);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const status = JSON.parse(readFileSync(statusOut, 'utf8')) as { ok: boolean; installationId: number; expiresAt: string; nextRefreshDueAt: string };
    assert.equal(status.ok, true);
    assert.equal(status.installationId, 777);
    assert.ok(Date.parse(status.nextRefreshDueAt) <= Date.parse(status.expiresAt) - 10 * 60_000);
    assert.doesNotMatch(readFileSync(statusOut, 'utf8') + result.stdout, new RegExp(token));
    // The issued token is accepted by the REST API (the simulator only knows one PAT otherwise).
    const jitOut = join(dir, 'jit.json');
    const jit = await runCli(['jit-config', '--scope', 'org', '--owner', 'acme', '--labels', 'self-hosted,linux', '--name-prefix', 'ci-jit', '--token-env', 'GH_TOKEN', '--out', jitOut, '--api-url', sim.url, '--json'], { GH_TOKEN: token });
    assert.equal(jit.code, 0, jit.stdout + jit.stderr);
    const written = JSON.parse(readFileSync(jitOut, 'utf8')) as { runner: { id: number; name: string }; encoded_jit_config: string };
    assert.equal(statSync(jitOut).mode & 0o777, 0o600);
    assert.match(written.runner.name, /^ci-jit-[0-9a-f]{12}$/);
    assert.equal(decodeJitConfig(written.encoded_jit_config).runner.agentName, written.runner.name);
    assert.doesNotMatch(jit.stdout, new RegExp(written.encoded_jit_config.slice(0, 40)));
    assert.deepEqual(sim.runners().map((r) => r.name), [written.runner.name]);
    // A second refresh replaces the file; a failing one keeps it and records the error.
    const again = await runCli(['app', 'token', ...app, '--installation-id', '777', '--out', out, '--status-out', statusOut]);
    assert.equal(again.code, 0);
    assert.notEqual(readFileSync(out, 'utf8').trim(), token);
    const kept = readFileSync(out, 'utf8');
    const failed = await runCli(['app', 'token', ...app, '--installation-id', '999', '--out', out, '--status-out', statusOut]);
    assert.equal(failed.code, 2);
    assert.equal(readFileSync(out, 'utf8'), kept);
    assert.deepEqual((JSON.parse(readFileSync(statusOut, 'utf8')) as { ok: boolean; error: { code: string } }).error.code, 'JP_GITHUB_NOT_FOUND');
  });

  it('jit-config: --dry-run registers nothing; a bad scope names the flag', async (t) => {
    const { sim } = await setup(t);
    const dry = await runCli(['jit-config', '--owner', 'acme', '--repo', 'app', '--labels', 'linux', '--dry-run', '--json', '--api-url', sim.url]);
    assert.equal(dry.code, 0);
    assert.equal((JSON.parse(dry.stdout) as { dryRun: boolean }).dryRun, true);
    const bad = await runCli(['jit-config', '--scope', 'team', '--owner', 'acme', '--labels', 'linux', '--out', '/tmp/x', '--json']);
    assert.match((JSON.parse(bad.stdout) as { error: { message: string } }).error.message, /--scope/);
    assert.equal(sim.runners().length, 0);
  });
});
