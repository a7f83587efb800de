import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from './store.ts';

/** Helpers shared by the store's tests and end-to-end tests (not part of the public surface). */

/**
 * A small filesystem the test mounts (tmpfs, root only) and unmounts, or a plain directory when
 * mounting is not possible (the caller then caps SQLite's pages instead).
 */
export function smallDisk(t: { after: (fn: () => Promise<void> | void) => void }, size = '1m'): { dir: string; mode: 'tmpfs' | 'max_page_count'; onClose: (fn: () => Promise<void> | void) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'jp-small-disk-'));
  const closers: Array<() => Promise<void> | void> = [];
  let mode: 'tmpfs' | 'max_page_count' = 'tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    mode = 'max_page_count';
  }
  t.after(async () => {
    for (const close of closers.reverse()) await close();
    if (mode === 'tmpfs') execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, mode, onClose: (fn) => closers.push(fn) };
}


/** Fills the small disk: a filler file, then writes until the store refuses one (its WAL's free space used up too). */
export function fillDisk(dir: string, store: Store): void {
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(64 * 1024 * 1024));
  } catch {
    // The filesystem is full now.
  }
  for (let i = 0; i < 100_000; i += 1) {
    try {
      store.transaction(() => store.recordDelivery(`filler-${i}-${'x'.repeat(400)}`, 'filler', null));
    } catch {
      return;
    }
  }
}
