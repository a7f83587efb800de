import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startSimulator } from '../src/sim/index.ts';
import { runCli } from './cli-helpers.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const TOKEN = { GH_PAT: 'ghp_label_commands_test_token' };

describe('jitpool labels', () => {
  it('lint: exit 1 with file:line findings; --json lists them; warnings fail only with --strict', async () => {
    const policy = join(FIXTURES, 'label_policy.json');
    const failing = await runCli(['labels', 'lint', '--policy', policy, join(FIXTURES, 'workflows')]);
    assert.equal(failing.code, 1, failing.stderr);
    assert.match(failing.stdout, /list\.yml:12:9: error: jobs\.gpu: label "gpu-a100"/);
    assert.match(failing.stdout, /matrix\.yml:8:\d+: warning:/);
    const json = await runCli(['labels', 'lint', '--policy', policy, '--json', join(FIXTURES, 'workflows', 'list.yml')]);
    const report = JSON.parse(json.stdout) as { ok: boolean; findings: Array<{ line: number; rule: string }> };
    assert.equal(report.ok, false);
    assert.deepEqual(report.findings.map((f) => [f.line, f.rule]), [[12, 'not-allowed']]);
    const clean = await runCli(['labels', 'lint', '--policy', policy, join(FIXTURES, 'workflows', 'hosted.yaml'), join(FIXTURES, 'workflows', 'matrix.yml')]);
    assert.equal(clean.code, 0, clean.stdout);
    const strict = await runCli(['labels', 'lint', '--strict', '--policy', policy, join(FIXTURES, 'workflows', 'matrix.yml')]);
    assert.equal(strict.code, 1);
    const missing = await runCli(['labels', 'lint', '--json', join(FIXTURES, 'nope')]);
    assert.equal(missing.code, 2);
    assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, 'JP_INPUT_INVALID');
  });

  it('preflight: the minimal label set of a branch\'s queued jobs, or the fallback', async (t) => {
    const sim = await startSimulator();
    t.after(() => sim.close());
    // No runner exists, so every job stays queued.
    sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'linux'], durationMs: 1000, headBranch: 'feature' });
    sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'Linux', 'x64'], durationMs: 1000, headBranch: 'feature' });
    sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted', 'gpu'], durationMs: 1000, headBranch: 'main' });
    const base = ['labels', 'preflight', '--owner', 'acme', '--repo', 'app', '--api-url', sim.url];
    const feature = await runCli([...base, '--branch', 'feature'], TOKEN);
    assert.equal(feature.code, 0, feature.stderr);
    assert.equal(feature.stdout.toLowerCase(), 'self-hosted,linux,x64\n');
    const all = JSON.parse((await runCli([...base, '--json'], TOKEN)).stdout) as { labels: string[]; queuedJobs: number; labelSets: unknown[] };
    assert.deepEqual(all.labels.map((l) => l.toLowerCase()).sort(), ['gpu', 'linux', 'self-hosted', 'x64']);
    assert.equal(all.queuedJobs, 3);
    assert.equal(all.labelSets.length, 3);
    const none = JSON.parse((await runCli([...base, '--branch', 'nothing', '--fallback', 'linux,x64,codex', '--json'], TOKEN)).stdout) as { labels: string[]; source: string };
    assert.deepEqual(none, { ...none, labels: ['linux', 'x64', 'codex'], source: 'fallback' });
    const noToken = await runCli([...base, '--json']);
    assert.equal(noToken.code, 2);
    assert.equal((JSON.parse(noToken.stdout) as { error: { code: string } }).error.code, 'JP_SECRET_MISSING');
  });
});
