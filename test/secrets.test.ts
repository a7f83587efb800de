import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { startRuntime } from '../src/cli/runtime.ts';
import { configSchema } from '../src/config/index.ts';
import { createGitHubClient, staticToken, type GitHubApi } from '../src/github/index.ts';
import { FAKE_RUNNER_SCRIPT, startSimulator } from '../src/sim/index.ts';

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((name) => join(dir, name)).filter((path) => {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  });
}

describe('secrets never leak', { timeout: 120_000 }, () => {
  it('a run at trace level: no token, webhook secret or JIT config in logs, errors, the store, the API or runner argv', async (t) => {
    const token = `ghp_${randomBytes(18).toString('hex')}`;
    const secret = `whsec_${randomBytes(18).toString('hex')}`;
    const stateDir = mkdtempSync(join(tmpdir(), 'jitpool-secrets-'));
    const sim = await startSimulator({ offlineAfterMs: 3000 });
    t.after(() => sim.close());
    const apiToken = `adm_${randomBytes(18).toString('hex')}`;
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    // A plain logger without jitpool's redaction: the secrets must never be handed to a logger at all.
    const logger = pino({ level: 'trace', base: undefined }, sink);
    // The real client, recording every JIT config GitHub hands out (the secrets to look for).
    const jitConfigs: string[] = [];
    const real = createGitHubClient({ baseUrl: sim.url, tokens: staticToken(token), logger, retryBaseMs: 10 });
    const github: GitHubApi = {
      ...real,
      generateJitConfig: async (scope, request) => {
        const result = await real.generateJitConfig(scope, request);
        jitConfigs.push(result.encodedJitConfig);
        return result;
      },
    };
    const config = configSchema.parse({
      controllerId: 'sec',
      github: { apiUrl: sim.url, auth: { kind: 'pat', token: { env: ['SEC_TOKEN'] } } },
      webhook: { secret: { env: ['SEC_SECRET'] } },
      poll: { backstopIntervalSeconds: 1, repos: ['acme/app'] },
      store: { stateDir },
      api: { host: '127.0.0.1', port: 0, auth: { token: { env: ['SEC_API_TOKEN'] } } },
      controller: { reconcileIntervalSeconds: 1, githubSyncIntervalSeconds: 1 },
      pools: [{ name: 'linux', scope: { kind: 'org', org: 'acme' }, labels: ['self-hosted', 'linux'], max: 3, idleGraceSeconds: 0, provider: { kind: 'process', command: [process.execPath, FAKE_RUNNER_SCRIPT] } }],
    });
    const runtime = await startRuntime({ config, logger, env: { SEC_TOKEN: token, SEC_SECRET: secret, SEC_API_TOKEN: apiToken }, github });
    t.after(async () => {
      await runtime.stop(5000).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    });
    sim.setWebhookTarget({ url: `${runtime.url}/webhook`, secret });

    const argvs: string[] = [];
    const watch = setInterval(() => {
      for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          if (cmdline.includes('fake-runner')) argvs.push(cmdline);
        } catch {
          // The process ended meanwhile.
        }
      }
    }, 50);
    for (let i = 0; i < 6; i += 1) sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 300 });
    // Some error paths too: a forged webhook, and a webhook signed with the wrong secret.
    await fetch(`${runtime.url}/webhook`, { method: 'POST', headers: { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}`, 'x-github-event': 'workflow_job' }, body: '{}' });
    await sim.waitFor((s) => s.jobs().every((job) => job.status === 'completed'), 60_000);
    const status = await (await fetch(`${runtime.url}/status`, { headers: { authorization: `Bearer ${apiToken}` } })).text();
    const metrics = await (await fetch(`${runtime.url}/metrics`, { headers: { authorization: `Bearer ${apiToken}` } })).text();
    await runtime.controller.drain(20_000);
    clearInterval(watch);
    await runtime.stop(5000);

    assert.ok(jitConfigs.length >= 6, 'JIT configs were issued');
    assert.ok(argvs.length > 0, 'runner processes were seen');
    const haystacks: Array<[string, string]> = [
      ['logs', lines.join('')],
      ['/status', status],
      ['/metrics', metrics],
      ['runner argv', argvs.join('\n')],
      ...files(stateDir).filter((path) => !path.endsWith('.credentials') && !path.endsWith('.runner') && !path.endsWith('.credentials_rsaparams')).map((path) => [path, readFileSync(path, 'latin1')] as [string, string]),
    ];
    assert.ok(lines.length > 20, 'trace logging produced lines');
    for (const [where, text] of haystacks) {
      assert.ok(!text.includes(token), `token found in ${where}`);
      assert.ok(!text.includes(secret), `webhook secret found in ${where}`);
      assert.ok(!text.includes(apiToken), `admin token found in ${where}`);
      for (const jit of jitConfigs) assert.ok(!text.includes(jit) && !text.includes(jit.slice(0, 40)), `a JIT config found in ${where}`);
    }
  });
});
