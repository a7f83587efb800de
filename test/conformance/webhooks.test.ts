import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startWebhookReceiver } from '../../src/sim/sim-test-helpers.ts';
import { TOKEN, runRunner, startRecordedSim } from './helpers.ts';
import { WebhookValidator } from './openapi-validator.ts';

const TIMEOUT_MS = 120_000;
const require = createRequire(import.meta.url);

interface ExampleGroup {
  name: string;
  examples: Array<Record<string, unknown>>;
}

const examples = (require('@octokit/webhooks-examples') as ExampleGroup[]).find((group) => group.name === 'workflow_job')?.examples ?? [];
const validator = new WebhookValidator();

/** Every key path of a value (`a`, `a.b`, `a.items[].c`), arrays merged over their items. */
function keyPaths(value: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(value)) {
    for (const item of value) for (const path of keyPaths(item, `${prefix}[]`)) out.add(path);
    return out;
  }
  if (typeof value !== 'object' || value === null) return out;
  for (const [key, child] of Object.entries(value)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out.add(path);
    for (const nested of keyPaths(child, path)) out.add(nested);
  }
  return out;
}

/** The union of the key paths of one part (`workflow_job`, `repository`, …) over GitHub's examples. */
function exampleKeys(part: string): Set<string> {
  const union = new Set<string>();
  for (const example of examples) for (const path of keyPaths(example[part])) union.add(path);
  return union;
}

/** Keys GitHub's webhooks description documents that its older examples predate (added by GitHub since). */
const DOCUMENTED_SINCE_EXAMPLES = new Set(['owner.user_view_type', 'user_view_type']);

function assertSameKeys(part: string, payload: Record<string, unknown>): void {
  const expected = exampleKeys(part);
  const actual = keyPaths(payload[part]);
  // A nested key only counts when its parent holds an object or items here: a queued job has no
  // steps, and a repository without a licence has `license: null`.
  const parentHasKeys = (key: string): boolean => {
    const cut = key.lastIndexOf('.');
    return cut < 0 || [...actual].some((path) => path.startsWith(key.slice(0, cut + 1)));
  };
  const missing = [...expected].filter((key) => !actual.has(key) && parentHasKeys(key));
  const extra = [...actual].filter((key) => !expected.has(key) && !DOCUMENTED_SINCE_EXAMPLES.has(key));
  assert.deepEqual({ part, missing, extra }, { part, missing: [], extra: [] }, `${part} keys differ from @octokit/webhooks-examples`);
}

test('workflow_job payloads (waiting, queued, in_progress, completed) validate against GitHub\'s webhooks description and match the examples\' keys', { timeout: TIMEOUT_MS }, async (t) => {
  assert.ok(examples.length >= 4, 'the workflow_job examples are installed');
  const receiver = await startWebhookReceiver();
  t.after(() => receiver.close());
  const { sim, client } = await startRecordedSim(t, { webhook: { url: receiver.url, secret: 'whsec' }, tokens: [TOKEN] });

  const gated = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['linux'], durationMs: 300, waitingForApproval: true });
  const cancelled = sim.queueJob({ owner: 'acme', repo: 'app', labels: ['nobody'], durationMs: 1 });
  sim.cancelJob(cancelled.id);
  sim.approveJob(gated.id);
  const jit = await client.generateJitConfig({ kind: 'org', org: 'acme' }, { name: 'jp-hooks-1', runnerGroupId: 1, labels: ['linux'], workFolder: '_work' });
  const runner = await runRunner(t, jit.encodedJitConfig);
  assert.equal(await runner.exitCode, 0);
  await sim.waitFor(() => receiver.deliveries.length >= 6, 30_000);

  const actions = receiver.deliveries.map((delivery) => `${delivery.payload.workflow_job.id}:${delivery.payload.action}`);
  for (const expected of [`${gated.id}:waiting`, `${gated.id}:queued`, `${gated.id}:in_progress`, `${gated.id}:completed`, `${cancelled.id}:queued`, `${cancelled.id}:completed`]) {
    assert.ok(actions.includes(expected), `no ${expected} delivery (got ${actions.join(', ')})`);
  }
  for (const delivery of receiver.deliveries) {
    const payload = JSON.parse(delivery.body) as Record<string, unknown> & { action: string };
    assert.equal(delivery.headers['x-github-event'], 'workflow_job');
    assert.deepEqual(validator.validate('workflow_job', payload), [], `${payload.action} payload drifts from the webhooks description`);
    for (const part of ['workflow_job', 'repository', 'sender', 'organization']) assertSameKeys(part, payload);
    const topKeys = Object.keys(payload).sort();
    assert.deepEqual(topKeys, ['action', 'organization', 'repository', 'sender', 'workflow_job']);
  }
});

test('the webhook validator catches a drifted payload', () => {
  const base = examples.find((example) => example.action === 'queued');
  assert.ok(base);
  assert.deepEqual(validator.validate('workflow_job', base as { action: string }), []);
  const drifted = structuredClone(base) as { action: string; workflow_job: Record<string, unknown> };
  drifted.workflow_job.status = 'pending';
  delete drifted.workflow_job.labels;
  const problems = validator.validate('workflow_job', drifted);
  assert.ok(problems.some((problem) => problem.includes('labels')), problems.join('\n'));
  assert.ok(problems.some((problem) => problem.includes('/workflow_job/status')), problems.join('\n'));
});
