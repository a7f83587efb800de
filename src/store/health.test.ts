import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, truncateSync, writeFileSync, writeSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ManualClock, isJitpoolError } from '../core/index.ts';
import { TROUBLE_CLEARS_AFTER_MS } from './health.ts';
import { smallDisk } from './store-test-helpers.ts';
import { Store } from './store.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'jp-store-health-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store file with enough rows to span many pages, closed (its WAL checkpointed into the file). */
function filledStore(path: string, jobs = 3000): void {
  const store = Store.open(path);
  store.transaction(() => {
    for (let id = 1; id <= jobs; id += 1) {
      store.observeJob({ id, runId: id, owner: 'acme', repo: 'app', name: `job ${id} ${'x'.repeat(80)}`, labels: ['self-hosted'], state: 'queued', conclusion: null, runnerName: null, queuedAtMs: id, startedAtMs: null, completedAtMs: null }, 'linux', 'test');
    }
  });
  store.close();
}

function overwrite(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

function pageSize(path: string): number {
  const fd = openSync(path, 'r');
  const header = Buffer.alloc(18);
  readSync(fd, header, 0, 18, 0);
  closeSync(fd);
  const size = header.readUInt16BE(16);
  return size === 1 ? 65536 : size;
}

const assertCorrupt = (path: string) => (err: unknown) => {
  assert.ok(isJitpoolError(err, 'JP_STORE_CORRUPT'), `expected JP_STORE_CORRUPT, got ${String(err)}`);
  assert.equal(err.details.file, path);
  assert.match(err.message, /jitpool store rebuild/);
  return true;
};

describe('store health: damaged files are refused with JP_STORE_CORRUPT', () => {
  it('a damaged header', (t) => {
    const path = join(tempDir(t), 'jitpool.sqlite');
    filledStore(path, 10);
    overwrite(path, 0, Buffer.from('not a sqlite header at all'));
    assert.throws(() => Store.open(path), assertCorrupt(path));
  });

  it('a truncated file', (t) => {
    const path = join(tempDir(t), 'jitpool.sqlite');
    filledStore(path);
    truncateSync(path, Math.floor(statSync(path).size / 3));
    assert.throws(() => Store.open(path), assertCorrupt(path));
  });

  it('damaged pages in the middle', (t) => {
    const path = join(tempDir(t), 'jitpool.sqlite');
    filledStore(path);
    const size = pageSize(path);
    const pages = Math.floor(statSync(path).size / size);
    for (const page of [Math.floor(pages / 2), Math.floor(pages / 2) + 1]) overwrite(path, page * size, Buffer.alloc(size, 0xa5));
    assert.throws(() => Store.open(path), assertCorrupt(path));
  });

  it('damage found while running makes the store unhealthy with SQLite\'s own message', (t) => {
    const path = join(tempDir(t), 'jitpool.sqlite');
    filledStore(path);
    const store = Store.open(path);
    t.after(() => store.close());
    assert.equal(store.health().ok, true);
    const size = pageSize(path);
    const pages = Math.floor(statSync(path).size / size);
    for (let page = Math.floor(pages / 2); page < pages - 1; page += 1) overwrite(path, page * size, Buffer.alloc(size, 0x5a));
    // Another connection's commit changes the WAL, so this connection drops its page cache and
    // reads the damaged pages, as it would after any restart.
    const other = new DatabaseSync(path);
    other.exec("PRAGMA journal_mode = WAL; INSERT INTO deliveries (id, event, action, received_at_ms) VALUES ('poke', 'x', NULL, 0)");
    other.close();
    assert.throws(() => store.listJobs({ limit: 5000 }));
    const health = store.health();
    assert.equal(health.ok, false);
    assert.equal(health.trouble, 'corrupt');
    assert.match(health.message ?? '', /malformed|corrupt|not a database/i);
  });
});

describe('store health: a full disk', () => {
  it('refuses the write with SQLite\'s real error (no "cannot rollback"), recovers when space returns', (t) => {
    const disk = smallDisk(t);
    t.diagnostic(`full disk simulated with ${disk.mode === 'tmpfs' ? 'a 1 MiB tmpfs the test mounted' : "SQLite's max_page_count (no mount possible)"}`);
    const path = join(disk.dir, 'jitpool.sqlite');
    const clock = new ManualClock();
    const store = Store.open(path, clock, disk.mode === 'tmpfs' ? {} : { maxPageCount: 40 });
    disk.onClose(() => store.close());
    store.transaction(() => store.recordDelivery('before-the-disk-filled', 'workflow_job', 'queued'));
    const filler = join(disk.dir, 'filler');
    if (disk.mode === 'tmpfs') {
      try {
        writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024));
      } catch {
        // The filesystem is full now.
      }
    }
    let failure: unknown = null;
    let written = 0;
    for (let i = 0; i < 20_000 && failure === null; i += 1) {
      try {
        store.transaction(() => store.recordDelivery(`delivery-${i}-${'x'.repeat(400)}`, 'workflow_job', 'queued'));
        written += 1;
      } catch (err) {
        failure = err;
      }
    }
    assert.ok(failure, 'the disk filled');
    assert.doesNotMatch((failure as Error).message, /cannot rollback/);
    assert.match((failure as Error).message, /full/i);
    assert.equal(store.health().trouble, 'full');
    assert.equal(store.ping(), true, 'reads still work');
    if (disk.mode === 'tmpfs') {
      rmSync(filler, { force: true });
      store.transaction(() => store.recordDelivery('after-space-returned', 'workflow_job', 'queued'));
      assert.equal(store.health().ok, false, 'one write that fits proves little');
      clock.advance(TROUBLE_CLEARS_AFTER_MS);
      store.transaction(() => store.recordDelivery('later', 'workflow_job', 'queued'));
      assert.equal(store.health().ok, true, 'healthy again: writes commit with no failure for a while');
    }
    t.diagnostic(`${written} deliveries written before the disk was full`);
  });
});

describe('store files are private', () => {
  it('state directory 0700, database and its WAL/SHM 0600, also when they existed wider', (t) => {
    const dir = join(tempDir(t), 'state');
    const path = join(dir, 'jitpool.sqlite');
    const store = Store.open(path);
    store.recordDelivery('d-1', 'workflow_job', 'queued');
    const modes = () => [dir, path, `${path}-wal`, `${path}-shm`].map((file) => (statSync(file).mode & 0o777).toString(8));
    assert.deepEqual(modes(), ['700', '600', '600', '600']);
    store.close();
    execFileSync('chmod', ['0755', dir]);
    execFileSync('chmod', ['0644', path]);
    Store.open(path).close();
    const fd = openSync(path, 'r');
    assert.equal((fstatSync(fd).mode & 0o777).toString(8), '600');
    closeSync(fd);
    assert.equal((statSync(dir).mode & 0o777).toString(8), '700');
  });

  it('never changes the mode of a shared directory the database was put in', (t) => {
    const path = join(tmpdir(), `jp-shared-${process.pid}-${Date.now()}.sqlite`);
    t.after(() => {
      for (const file of [path, `${path}-wal`, `${path}-shm`]) rmSync(file, { force: true });
    });
    const before = statSync(tmpdir()).mode;
    Store.open(path).close();
    assert.equal(statSync(tmpdir()).mode, before);
  });
});
