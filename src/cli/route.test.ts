import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { example, forkPullRequest, pullRequestBy } from '../routing/event-fixtures.ts';
import { routeFromFiles } from './route.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

function files(t: { after: (fn: () => void) => void }, contents: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'jp-route-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const paths: Record<string, string> = {};
  for (const [name, text] of Object.entries(contents)) writeFileSync((paths[name] = join(dir, name)), text);
  return paths;
}

describe('jitpool route', () => {
  it('prints the decision JSON for an event file', (t) => {
    const paths = files(t, { 'event.json': JSON.stringify(pullRequestBy('COLLABORATOR')) });
    const stdout = execFileSync(process.execPath, [MAIN, 'route', '--event', paths['event.json']!, '--event-name', 'pull_request', '--variable', 'true'], { encoding: 'utf8', timeout: 60_000 });
    assert.deepEqual(JSON.parse(stdout), {
      event: 'pull_request', target: 'self-hosted', runsOn: ['self-hosted', 'linux', 'x64'], rule: 'trusted-pull-request', trusted: true,
      reason: 'pull_request from the repository itself by collaborator Codertocat',
    });
  });

  it('reads a YAML policy, infers the event name, and honours --variable false', (t) => {
    const paths = files(t, {
      'fork.json': JSON.stringify(forkPullRequest()),
      'mg.json': JSON.stringify(example('merge_group')),
      'policy.yaml': 'mergeGroup: self-hosted\nselfHostedLabels: [self-hosted, linux, x64, chem-trusted-pr]\n',
    });
    assert.equal(routeFromFiles({ event: paths['fork.json']! }).rule, 'fork');
    const mergeGroup = routeFromFiles({ event: paths['mg.json']!, policy: paths['policy.yaml'] });
    assert.deepEqual([mergeGroup.event, mergeGroup.target, mergeGroup.runsOn.at(-1)], ['merge_group', 'self-hosted', 'chem-trusted-pr']);
    assert.equal(routeFromFiles({ event: paths['mg.json']!, policy: paths['policy.yaml'], variable: 'false' }).rule, 'routing-off');
  });

  it('names the bad input', (t) => {
    const paths = files(t, { 'bad.json': '{nope', 'zen.json': '{"zen":"hi"}', 'ok.json': '{}', 'policy.yaml': 'allowForks: maybe\n' });
    assert.throws(() => routeFromFiles({ event: paths['bad.json']! }), { code: 'JP_INPUT_INVALID' });
    assert.throws(() => routeFromFiles({ event: paths['zen.json']! }), (err: Error & { code: string }) => err.code === 'JP_INPUT_INVALID' && /--event-name/.test(err.message));
    assert.throws(() => routeFromFiles({ event: paths['ok.json']!, eventName: 'push', policy: paths['policy.yaml'] }), (err: Error & { details: { field: string } }) => err.details.field === 'allowForks');
  });
});
