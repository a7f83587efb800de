import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../core/index.ts';
import { startSimulator } from '../sim/index.ts';
import { createGitHubClient } from './client.ts';
import { parseLinks, readPages } from './pages.ts';
import { staticToken } from './token-provider.ts';

describe('pagination', () => {
  it('parses next and last from a Link header', () => {
    assert.deepEqual(parseLinks('<https://x/y?per_page=100&page=2>; rel="next", <https://x/y?per_page=100&page=9>; rel="last"'), { hasNext: true, lastPage: 9 });
    assert.deepEqual(parseLinks('<https://x/y?page=1>; rel="first", <https://x/y?page=3>; rel="prev"'), { hasNext: false, lastPage: null });
    assert.deepEqual(parseLinks(undefined), { hasNext: false, lastPage: null });
  });

  it('stops at rel="last" even when the server keeps saying next, and at its cap', async () => {
    const pageOf = (page: number) => ({ list: [{ id: page }], link: '<u?page=99>; rel="next", <u?page=3>; rel="last"', notModified: false });
    const read = await readPages(async (page) => pageOf(page), { maxPages: 50, map: (raw: { id: number }) => raw.id, keyOf: (raw) => raw.id });
    assert.deepEqual(read.items, [1, 2, 3]);
    assert.equal(read.pages, 3);
    const capped = await readPages(async (page) => ({ list: [{ id: page }], link: '<u?page=2>; rel="next"', notModified: false }), { maxPages: 5, map: (raw: { id: number }) => raw.id, keyOf: (raw) => raw.id });
    assert.equal(capped.pages, 5);
    assert.equal(capped.isTruncated, true);
  });

  it('de-duplicates and stops when a page repeats what was read (a server ignoring `page`)', async () => {
    const read = await readPages(async () => ({ list: [{ id: 1 }, { id: 2 }], link: '<u?page=2>; rel="next"', notModified: false }), {
      maxPages: 100, map: (raw: { id: number }) => raw.id, keyOf: (raw) => raw.id,
    });
    assert.deepEqual(read.items, [1, 2]);
    assert.equal(read.pages, 2);
  });

  it('against the simulator\'s endless rel="next" fault, a list costs two requests, not a hundred', { timeout: 60_000 }, async (t) => {
    const sim = await startSimulator({ faults: { api: { endlessPagesRate: 1 } } });
    t.after(() => sim.close());
    const github = createGitHubClient({ baseUrl: sim.url, tokens: staticToken('ghp_pages_test_token'), logger: silentLogger(), retryBaseMs: 1 });
    for (let i = 0; i < 3; i += 1) sim.queueJob({ owner: 'acme', repo: 'app', labels: ['self-hosted'], durationMs: 1 });
    const runs = await github.listWorkflowRuns('acme', 'app', 'queued');
    assert.equal(runs.items.length, 3);
    assert.equal(sim.stats().calls.byEndpoint['GET /repos/{owner}/{repo}/actions/runs'], 2);
  });
});
