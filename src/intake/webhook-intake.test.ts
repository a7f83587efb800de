import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { silentLogger } from '../core/index.ts';
import { Store } from '../store/index.ts';
import { WebhookIntake, type WebhookRequest } from './webhook-intake.ts';

const SECRET = 'test-webhook-secret-0123456789';
const POOLS = [{ name: 'linux', labels: ['self-hosted', 'linux'], scope: { kind: 'org' as const, org: 'acme' } }];

function payload(action: string, patch: Record<string, unknown> = {}) {
  return {
    action,
    workflow_job: {
      id: 42, run_id: 7, name: 'build', status: action, conclusion: action === 'completed' ? 'success' : null, labels: ['self-hosted', 'Linux'],
      runner_name: action === 'queued' ? null : 'jp-linux-abcd', created_at: '2026-01-01T00:00:00Z', started_at: null, completed_at: null, ...patch,
    },
    repository: { name: 'app', full_name: 'acme/app', owner: { login: 'acme' } },
  };
}

async function request(body: unknown, headers: Partial<WebhookRequest> = {}): Promise<WebhookRequest> {
  const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { deliveryId: randomUUID(), event: 'workflow_job', signature: await sign(SECRET, raw.toString('utf8')), rawBody: raw, ...headers };
}

function setup() {
  const store = Store.open(':memory:');
  const kicks: Array<string | null> = [];
  const intake = new WebhookIntake({ secret: SECRET, store, pools: POOLS, logger: silentLogger(), onChange: (pool) => kicks.push(pool) });
  const snapshot = () => JSON.stringify([store.listJobs(), store.listTransitions()]);
  return { store, intake, kicks, snapshot };
}

describe('WebhookIntake', () => {
  it('records a queued job for the matching pool and asks for a reconcile', async () => {
    const { store, intake, kicks } = setup();
    const response = await intake.handle(await request(payload('queued')));
    assert.equal(response.status, 202);
    assert.equal(store.getJob(42)?.pool, 'linux');
    assert.equal(store.getJob(42)?.state, 'queued');
    assert.deepEqual(kicks, ['linux']);
  });

  it('rejects missing, malformed and wrong signatures with 401 and changes nothing', async () => {
    const { intake, snapshot, kicks } = setup();
    const before = snapshot();
    const good = await request(payload('queued'));
    for (const signature of [undefined, '', 'sha1=abc', `sha256=${'0'.repeat(64)}`, await sign('other-secret-xxxxxxxx', good.rawBody.toString())]) {
      const response = await intake.handle({ ...good, signature });
      assert.equal(response.status, 401);
      assert.equal(response.body.code, 'JP_WEBHOOK_SIGNATURE');
    }
    // A body changed after signing.
    const tampered = { ...good, rawBody: Buffer.from(good.rawBody.toString().replace('"acme"', '"evil"')) };
    assert.equal((await intake.handle(tampered)).status, 401);
    assert.equal(snapshot(), before);
    assert.deepEqual(kicks, []);
  });

  it('rejects malformed bodies and headers with 400 and changes nothing', async () => {
    const { intake, snapshot } = setup();
    const before = snapshot();
    const cases = [
      await request('{not json'),
      await request({ action: 'queued' }),
      await request(payload('queued'), { deliveryId: undefined }),
      await request(payload('queued'), { deliveryId: '../../etc/passwd' }),
      await request(payload('queued'), { event: undefined }),
      await request({ ...payload('queued'), repository: { name: '..', owner: { login: 'acme' } } }),
      await request({ ...payload('queued'), repository: { name: 'app', owner: { login: 'a;rm -rf /' } } }),
    ];
    for (const req of cases) {
      const response = await intake.handle(req);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.code, 'JP_WEBHOOK_MALFORMED');
    }
    assert.equal(snapshot(), before);
  });

  it('ignores other events, unknown actions, unmatched and hostile labels with 2xx and no state change', async () => {
    const { intake, snapshot } = setup();
    const before = snapshot();
    assert.equal((await intake.handle(await request({ zen: 'hi' }, { event: 'ping' }))).status, 202);
    assert.equal((await intake.handle(await request({ action: 'opened' }, { event: 'pull_request' }))).status, 202);
    assert.equal((await intake.handle(await request(payload('exploded')))).status, 202);
    assert.equal((await intake.handle(await request(payload('queued', { labels: ['ubuntu-latest'] })))).status, 202);
    assert.equal((await intake.handle(await request(payload('queued', { labels: ['self-hosted', '$(reboot)'] })))).status, 202);
    assert.equal(snapshot(), before);
  });

  it('drops a duplicate delivery', async () => {
    const { store, intake, kicks } = setup();
    const req = await request(payload('queued'));
    assert.equal((await intake.handle(req)).status, 202);
    const transitions = store.listTransitions().length;
    const again = await intake.handle(req);
    assert.equal(again.status, 200);
    assert.equal(again.body.message, 'duplicate delivery');
    assert.equal(store.listTransitions().length, transitions);
    assert.equal(kicks.length, 1);
  });

  it('follows a job through in_progress and completed, even out of order', async () => {
    const { store, intake } = setup();
    await intake.handle(await request(payload('queued'), { deliveryId: randomUUID() }));
    await intake.handle(await request(payload('completed'), { deliveryId: randomUUID() }));
    const late = await intake.handle(await request(payload('in_progress'), { deliveryId: randomUUID() }));
    assert.equal(late.status, 202);
    assert.equal(store.getJob(42)?.state, 'completed');
    assert.equal(store.getJob(42)?.runnerName, 'jp-linux-abcd');
  });
  it('reports each recorded job change to onJobRecorded (the route audit hook), not duplicates or stale events', async () => {
    const store = Store.open(':memory:');
    const recorded: Array<[number, string, string | null]> = [];
    const intake = new WebhookIntake({
      secret: SECRET, store, pools: POOLS, logger: silentLogger(), onChange: () => {},
      onJobRecorded: (job, previous) => recorded.push([job.id, job.state, previous]),
    });
    const queued = await request(payload('queued'), { deliveryId: randomUUID() });
    await intake.handle(queued);
    await intake.handle(queued);
    await intake.handle(await request(payload('completed'), { deliveryId: randomUUID() }));
    await intake.handle(await request(payload('in_progress'), { deliveryId: randomUUID() }));
    await intake.handle(await request(payload('queued', { labels: ['ubuntu-latest'], id: 43 }), { deliveryId: randomUUID() }));
    assert.deepEqual(recorded, [[42, 'queued', null], [42, 'completed', 'queued']]);
  });
});
