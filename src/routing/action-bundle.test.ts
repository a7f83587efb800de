import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { formatOutput } from './action.ts';
import { dependabotPullRequest, example, forkPullRequest, pullRequestBy } from './event-fixtures.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(ROOT, 'action/dist/index.js');

/** Parses a GITHUB_OUTPUT file written in the runner's `name<<DELIMITER` format. */
function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!match) continue;
    const [, name, delimiter] = match;
    const value: string[] = [];
    for (i += 1; i < lines.length && lines[i] !== delimiter; i += 1) value.push(lines[i]!);
    assert.ok(i < lines.length, `output ${name} has no closing delimiter`);
    outputs[name!] = value.join('\n');
  }
  return outputs;
}

/** Runs the committed bundle the way the Actions runtime does: `node <main>` from a directory without node_modules. */
function runBundle(t: { after: (fn: () => void) => void }, eventName: string | null, payload: unknown, inputs: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'jp-action-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const eventPath = join(dir, 'event.json');
  const outputPath = join(dir, 'output.txt');
  writeFileSync(eventPath, JSON.stringify(payload));
  writeFileSync(outputPath, '');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, GITHUB_EVENT_PATH: eventPath, GITHUB_OUTPUT: outputPath, GITHUB_ACTIONS: 'true' };
  if (eventName) env.GITHUB_EVENT_NAME = eventName;
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const result = spawnSync(process.execPath, [BUNDLE], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, outputs: parseOutputFile(readFileSync(outputPath, 'utf8')) };
}

describe('the routing Action', () => {
  it('action.yml runs the committed bundle on node24 and declares the outputs it writes', () => {
    const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { runs: { using: string; main: string }; inputs: Record<string, unknown>; outputs: Record<string, unknown> };
    assert.deepEqual(action.runs, { using: 'node24', main: 'action/dist/index.js' });
    assert.deepEqual(Object.keys(action.outputs).sort(), ['reason', 'rule', 'runs-on', 'target', 'trusted']);
    assert.ok('routing-variable' in action.inputs);
  });

  it('the example workflow routes every build job through the route job, on pull_request, merge_group and push', () => {
    const workflow = parseYaml(readFileSync(join(ROOT, 'examples/workflows/ci-routed.yml'), 'utf8')) as { on: Record<string, unknown>; jobs: Record<string, { 'runs-on': string; needs?: string; steps?: Array<{ uses?: string; with?: Record<string, string> }> }> };
    assert.deepEqual(Object.keys(workflow.on).sort(), ['merge_group', 'pull_request', 'push']);
    const { route, ...builds } = workflow.jobs;
    assert.equal(route?.['runs-on'], 'ubuntu-latest');
    assert.equal(route?.steps?.[0]?.with?.['routing-variable'], '${{ vars.CI_SELF_HOSTED_TRUSTED_ROUTING }}');
    assert.ok(Object.keys(builds).length >= 3);
    for (const [name, job] of Object.entries(builds)) {
      assert.equal(job.needs, 'route', name);
      assert.equal(job['runs-on'], '${{ fromJSON(needs.route.outputs.runs-on) }}', name);
    }
  });

  it('the committed bundle is up to date with the source', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'jp-action-build-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const fresh = join(dir, 'index.js');
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-action.mjs'), fresh], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
    assert.ok(readFileSync(fresh, 'utf8') === readFileSync(BUNDLE, 'utf8'), 'action/dist/index.js is stale: run `npm run build:action` and commit it');
  });

  it('routes a trusted PR to the self-hosted labels, as the runtime runs it', (t) => {
    const run = runBundle(t, 'pull_request', pullRequestBy('MEMBER'), { 'routing-variable': 'true', 'self-hosted-labels': 'self-hosted, linux, x64, chem-trusted-pr' });
    assert.equal(run.status, 0, run.stdout);
    assert.deepEqual(JSON.parse(run.outputs['runs-on']!), ['self-hosted', 'linux', 'x64', 'chem-trusted-pr']);
    assert.equal(run.outputs.target, 'self-hosted');
    assert.equal(run.outputs.rule, 'trusted-pull-request');
    assert.equal(run.outputs.trusted, 'true');
  });

  it('keeps fork and bot PRs on the fallback, and everything when the variable is off', (t) => {
    for (const [payload, variable, rule] of [
      [forkPullRequest(), 'true', 'fork'],
      [dependabotPullRequest(), 'true', 'bot'],
      [pullRequestBy('OWNER'), 'false', 'routing-off'],
      [pullRequestBy('OWNER'), '', 'routing-off'],
    ] as const) {
      const run = runBundle(t, 'pull_request', payload, { 'routing-variable': variable });
      assert.equal(run.status, 0, run.stdout);
      assert.deepEqual(JSON.parse(run.outputs['runs-on']!), ['ubuntu-latest']);
      assert.equal(run.outputs.rule, rule);
    }
  });

  it('handles merge_group by the policy input, and push with an inferred event name', (t) => {
    const fallback = runBundle(t, 'merge_group', example('merge_group'), { 'routing-variable': 'true' });
    assert.equal(fallback.outputs.target, 'fallback');
    assert.equal(fallback.outputs.rule, 'merge-group-fallback');
    const routed = runBundle(t, 'merge_group', example('merge_group'), { 'routing-variable': 'true', policy: JSON.stringify({ mergeGroup: 'self-hosted', fallbackLabels: ['ubuntu-24.04'] }) });
    assert.equal(routed.outputs.target, 'self-hosted');
    const push = runBundle(t, null, example('push'), { 'routing-variable': 'true', 'fallback-labels': '["ubuntu-24.04"]' });
    assert.equal(push.status, 0, push.stdout);
    assert.deepEqual(JSON.parse(push.outputs['runs-on']!), ['ubuntu-24.04']);
  });

  it('writes any value, multi-line included, in the delimiter format', () => {
    const text = formatOutput('reason', 'line one\nline two: runs-on<<EOF', 'ghadelimiter_test') + formatOutput('target', 'fallback');
    assert.deepEqual(parseOutputFile(text), { reason: 'line one\nline two: runs-on<<EOF', target: 'fallback' });
    assert.throws(() => formatOutput('x', 'a ghadelimiter_test b', 'ghadelimiter_test'));
  });

  it('fails with a workflow error naming the bad input', (t) => {
    const bad = runBundle(t, 'pull_request', pullRequestBy('OWNER'), { 'routing-variable': 'true', 'merge-group': 'sometimes' });
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /::error title=jitpool route::action inputs: mergeGroup/);
    const badBool = runBundle(t, 'pull_request', pullRequestBy('OWNER'), { 'allow-forks': 'yes' });
    assert.equal(badBool.status, 1);
    assert.match(badBool.stdout, /input allow-forks/);
    assert.deepEqual(badBool.outputs, {});
  });
});
