import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNNER_DIR_PATTERN, removeStaleWorkDir, scanWorkDirs, type WorkDirScanOptions } from './work-dirs.ts';

describe('work directories jitpool made', () => {
  it('runner names: jp-<pool>-<hex id>, nothing else', () => {
    for (const name of ['jp-linux-0123456789ab', 'jp-a-deadbeef', 'jp-gpu-pool-2-00112233445566ff']) assert.match(name, RUNNER_DIR_PATTERN);
    for (const name of ['src', 'jp-linux', 'jp-linux-stale1', 'jp--x-deadbeef', 'jp-Linux-deadbeef', 'jp-linux-deadbeef/..', '.jp-linux-deadbeef']) assert.doesNotMatch(name, RUNNER_DIR_PATTERN);
  });

  it('needs the name, the record of this controller and the runner user; judges again before deleting', (t) => {
    const root = mkdtempSync(join(tmpdir(), 'jp-workdirs-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    // The provider's records live outside the work dirs (a job cannot forge them): a map here.
    const records = new Map<string, { controllerId: string }>();
    const make = (name: string, controllerId: string | undefined) => {
      mkdirSync(join(root, name));
      if (controllerId !== undefined) records.set(name, { controllerId });
    };
    make('jp-linux-000000000001', 'me');
    make('jp-linux-000000000002', 'me');
    make('jp-linux-000000000003', 'me');
    make('jp-linux-000000000004', 'me');
    make('jp-linux-000000000005', undefined);
    make('jp-linux-000000000006', 'other');
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src', 'keep.txt'), 'not jitpool\'s');
    mkdirSync(join(root, '.jitpool-records'));
    const uid = process.getuid?.() ?? 0;
    const isRoot = uid === 0;
    if (isRoot) chownSync(join(root, 'jp-linux-000000000002'), 12345, 12345);
    const options: WorkDirScanOptions = {
      workRoot: root, controllerId: 'me', skip: ['.jitpool-records'], markerOf: (name) => records.get(name) ?? null, isRunnerUid: (owner) => owner === uid,
      liveNames: new Set(['jp-linux-000000000003']), minAgeMs: 0, nowMs: Date.now() + 1000, isRunning: (name) => name.endsWith('0004'),
    };
    const scan = scanWorkDirs(options);
    assert.deepEqual(scan.stale.map((d) => d.name), isRoot ? ['jp-linux-000000000001'] : ['jp-linux-000000000001', 'jp-linux-000000000002']);
    const foreign = new Map(scan.foreign.map((d) => [d.name, d.reason]));
    if (isRoot) assert.match(foreign.get('jp-linux-000000000002')!, /owned by uid 12345/);
    else t.diagnostic('not root: the other-owner case is not exercised');
    assert.match(foreign.get('jp-linux-000000000005')!, /no record/);
    assert.match(foreign.get('jp-linux-000000000006')!, /made by controller "other"/);
    assert.match(foreign.get('src')!, /not a jitpool runner name/);
    assert.ok(!foreign.has('.jitpool-records'), 'the provider\'s own bookkeeping is neither judged nor reported');
    // The record changed hands after the scan: the deletion judges again and keeps it.
    records.set('jp-linux-000000000001', { controllerId: 'other' });
    assert.equal(removeStaleWorkDir(options, 'jp-linux-000000000001'), false);
    assert.ok(existsSync(join(root, 'jp-linux-000000000001')));
    records.set('jp-linux-000000000001', { controllerId: 'me' });
    assert.equal(removeStaleWorkDir(options, 'jp-linux-000000000001'), true);
    assert.ok(!existsSync(join(root, 'jp-linux-000000000001')));
    assert.equal(removeStaleWorkDir(options, 'jp-linux-000000000003'), false, 'a live runner is kept');
    assert.equal(removeStaleWorkDir(options, 'jp-linux-000000000004'), false, 'a running process is kept');
    assert.equal(removeStaleWorkDir(options, 'src'), false, 'a foreign directory is kept');
    assert.ok(existsSync(join(root, 'src', 'keep.txt')));
  });
});
