import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createHmac, randomUUID } from 'node:crypto';
import { mulberry32 } from '../src/sim/index.ts';
import { startHarness } from './helpers/harness.ts';

const SECRET = 'hostile-test-secret-0123456789';
const MAX_BODY = 64 * 1024;
const HOSTILE = ['$(reboot)', '`id`', 'a;rm -rf /', '../../etc/passwd', '..', '.', 'a\nb', 'a b', '%2e%2e%2f', '|cat', '&&', "'\"", '<script>', '\u0000', 'x'.repeat(300), '${{ secrets.X }}', '-rf', '~root', '/abs', 'C:\\win'];

interface Hostile {
  kind: string;
  headers: Record<string, string>;
  body: Buffer;
}

async function sign(secret: string, body: string): Promise<string> {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** 1,000 requests an attacker or a broken proxy could send; none may change state. */
async function generate(count: number): Promise<Hostile[]> {
  const random = mulberry32(1234);
  const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const payload = (patch: { owner?: string; repo?: string; labels?: string[]; action?: string; runnerName?: string }) => ({
    action: patch.action ?? 'queued',
    workflow_job: {
      id: 1 + Math.floor(random() * 1e9), run_id: 5, name: 'build', status: 'queued', conclusion: null, labels: patch.labels ?? ['self-hosted', 'linux'],
      runner_name: patch.runnerName ?? null, created_at: '2026-01-01T00:00:00Z', started_at: null, completed_at: null,
    },
    repository: { name: patch.repo ?? 'app', owner: { login: patch.owner ?? 'acme' } },
  });
  const signed = async (body: string, extra: Record<string, string> = {}) => ({
    'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': randomUUID(),
    'x-hub-signature-256': await sign(SECRET, body), ...extra,
  });
  const out: Hostile[] = [];
  for (let i = 0; i < count; i += 1) {
    const kind = pick(['signature', 'oversized', 'json', 'shape', 'action', 'strings', 'headers']);
    let body = JSON.stringify(payload({}));
    let headers: Record<string, string>;
    switch (kind) {
      case 'signature': {
        headers = await signed(body);
        const variant = pick(['missing', 'garbage', 'wrong-secret', 'tampered', 'sha1', 'short']);
        if (variant === 'missing') delete headers['x-hub-signature-256'];
        if (variant === 'garbage') headers['x-hub-signature-256'] = `sha256=${'f'.repeat(64)}`;
        if (variant === 'wrong-secret') headers['x-hub-signature-256'] = await sign('not-the-secret-xxxxxxxx', body);
        if (variant === 'tampered') body = body.replace('"acme"', '"acmf"');
        if (variant === 'sha1') headers['x-hub-signature-256'] = 'sha1=0123456789abcdef0123456789abcdef01234567';
        if (variant === 'short') headers['x-hub-signature-256'] = 'sha256=';
        break;
      }
      case 'oversized':
        body = JSON.stringify({ ...payload({}), padding: 'x'.repeat(MAX_BODY + Math.floor(random() * 10_000)) });
        headers = await signed(body);
        break;
      case 'json':
        body = pick(['{', '{"action":', 'null', '[]', '"str"', '{"a":1}}', '\u0000\u0001', '']) ;
        headers = await signed(body);
        break;
      case 'shape':
        body = JSON.stringify(pick([{ action: 'queued' }, { workflow_job: {} }, { ...payload({}), workflow_job: { id: 'x' } }, { ...payload({}), repository: null }, { ...payload({}), workflow_job: { ...payload({}).workflow_job, labels: 'self-hosted' } }, { ...payload({}), workflow_job: { ...payload({}).workflow_job, id: -5 } }]));
        headers = await signed(body);
        break;
      case 'action':
        body = JSON.stringify(payload({ action: pick(['deleted', 'exploded', '', 'QUEUED', ...HOSTILE]) }));
        headers = await signed(body);
        break;
      case 'strings': {
        const field = pick(['owner', 'repo', 'labels']);
        const value = pick(HOSTILE);
        body = JSON.stringify(payload(field === 'owner' ? { owner: value } : field === 'repo' ? { repo: value } : { labels: ['self-hosted', 'linux', value] }));
        headers = await signed(body);
        break;
      }
      default: {
        headers = await signed(body);
        const header = pick(['x-github-delivery', 'x-github-event']);
        headers[header] = pick(HOSTILE.filter((h) => !h.includes("\n") && !h.includes("\u0000")));
      }
    }
    out.push({ kind, headers, body: Buffer.from(body) });
  }
  return out;
}

function dump(path: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return ['runners', 'jobs', 'deliveries', 'transitions'].map((table) => JSON.stringify(db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all())).join('\n');
  } finally {
    db.close();
  }
}

describe('hostile webhook input', { timeout: 120_000 }, () => {
  it('1,000 generated hostile requests: none accepted, the tables they could touch unchanged byte for byte', async (t) => {
    const h = await startHarness({ config: { webhook: { maxBodyBytes: MAX_BODY, secret: { env: ['HOSTILE_SECRET'] } } }, env: { HOSTILE_SECRET: SECRET } });
    t.after(() => h.close());
    const path = join(h.stateDir, 'jitpool.sqlite');
    // One legitimate job first, so the tables are not trivially empty.
    h.runtime.store.observeJob({ id: 1, runId: 1, owner: 'acme', repo: 'app', name: 'ok', labels: ['self-hosted', 'linux'], state: 'waiting', conclusion: null, runnerName: null, queuedAtMs: 1, startedAtMs: null, completedAtMs: null }, 'linux', 'test');
    await h.runtime.controller.settle();
    const address = h.runtime.url!;
    const before = dump(path);
    const requests = await generate(1000);
    const statuses: Record<string, number> = {};
    let accepted = 0;
    for (const request of requests) {
      const response = await fetch(`${address}/webhook`, { method: 'POST', headers: request.headers, body: request.body });
      const body = (await response.json().catch(() => ({}))) as { message?: string };
      statuses[`${request.kind}:${response.status}`] = (statuses[`${request.kind}:${response.status}`] ?? 0) + 1;
      if (body.message === "recorded" || body.message === "stale event ignored") accepted += 1;
      assert.ok([202, 400, 401, 413].includes(response.status), `${request.kind} answered ${response.status}`);
    }
    assert.equal(accepted, 0, JSON.stringify(statuses));
    assert.equal(dump(path), before, 'store unchanged');
    // Every category was exercised, and the ones that must be refused were refused.
    assert.ok((statuses['signature:401'] ?? 0) > 50);
    assert.ok((statuses['oversized:413'] ?? 0) > 50);
    assert.ok((statuses['json:400'] ?? 0) > 50);
  });
});
