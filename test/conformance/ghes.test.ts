import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runRunner, startRecordedSim, TOKEN } from './helpers.ts';
import { OpenApiValidator } from './openapi-validator.ts';

const TIMEOUT_MS = 120_000;

test('GitHub Enterprise Server: the client works against a /api/v3 base URL and every exchange conforms to the GHES description', { timeout: TIMEOUT_MS }, async (t) => {
  const { sim, exchanges, client, octokit } = await startRecordedSim(t, { pathPrefix: '/api/v3/' });
  assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+\/api\/v3$/);

  for (const scope of [{ kind: 'org', org: 'acme' }, { kind: 'enterprise', enterprise: 'corp' }, { kind: 'repo', owner: 'acme', repo: 'app' }] as const) {
    const names = [1, 2, 3].map((n) => `jp-ghes-${scope.kind}-${n}`);
    const jits = [];
    for (const name of names) jits.push(await client.generateJitConfig(scope, { name, runnerGroupId: 1, labels: ['linux'], workFolder: '_work' }));
    assert.deepEqual((await client.listRunners(scope)).map((runner) => runner.name).sort(), names);
    assert.equal(await client.deleteRunner(scope, jits[2]?.runnerId ?? 0), 'deleted');
  }
  // Pagination links keep the prefix, so octokit's paginate follows them.
  const { headers } = await octokit.request('GET /orgs/{org}/actions/runners', { org: 'acme', per_page: 1 });
  assert.match(String(headers.link), /\/api\/v3\/orgs\/acme\/actions\/runners\?per_page=1&page=2/);
  assert.equal((await octokit.paginate('GET /orgs/{org}/actions/runners', { org: 'acme', per_page: 1 })).length, 2);

  // A job runs on a runner whose JIT config came through the prefixed API.
  const jit = await client.generateJitConfig({ kind: 'org', org: 'acme' }, { name: 'jp-ghes-run-1', runnerGroupId: 1, labels: ['gpu'], workFolder: '_work' });
  const job = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['gpu'], durationMs: 200 });
  const runner = await runRunner(t, jit.encodedJitConfig);
  assert.equal(await runner.exitCode, 0);
  assert.equal((await client.getJob('acme', 'app', job.id)).status, 'completed');

  // Without the prefix there is no API, as on a GHES host.
  const origin = sim.url.replace(/\/api\/v3$/, '');
  assert.equal((await fetch(`${origin}/orgs/acme/actions/runners`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);

  const validator = new OpenApiValidator(['ghes-3.19']);
  const problems = exchanges.flatMap((exchange) => validator.validateExchange(exchange).map((problem) => `${exchange.method} ${exchange.url}: ${problem}`));
  assert.deepEqual(problems, []);
  assert.ok(exchanges.length >= 15);
  assert.ok(exchanges.every((exchange) => !exchange.url.startsWith('/api/v3')), 'exchanges record paths without the prefix');
});
