import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, round } from '../src/core/index.ts';
import { createRunnerRoot } from '../src/runner/index.ts';

/** Options of {@link benchRunnerRoot}. */
export interface RunnerRootBenchOptions {
  /** Files in the generated package tree. @default 2000 */
  files?: number;
  /** Total size of the tree. @default 200 MiB */
  totalBytes?: number;
  /** Runs of each method; the median is reported. @default 5 */
  runs?: number;
}

/**
 * Time to give a runner its root directory from the extracted package: a hard-linked tree
 * (what jitpool does) versus a full recursive copy. The tree is generated with the shape of the
 * real actions-runner package (a few thousand files, ~200 MB, a deep `bin/` and `externals/`).
 */
export async function benchRunnerRoot(options: RunnerRootBenchOptions = {}): Promise<{ hardlinkMs: number; copyMs: number; ratio: number }> {
  const files = options.files ?? 2000;
  const totalBytes = options.totalBytes ?? 200 * 1024 * 1024;
  const runs = options.runs ?? 5;
  const dir = await mkdtemp(join(tmpdir(), 'jp-bench-root-'));
  try {
    const pkg = join(dir, 'package');
    // Most files are small, a few are large (like the runner's node and dotnet binaries).
    const large = Math.max(1, Math.floor(files / 100));
    const smallBytes = 16 * 1024;
    const largeBytes = Math.max(smallBytes, Math.floor((totalBytes - (files - large) * smallBytes) / large));
    for (let i = 0; i < files; i++) {
      const sub = join(pkg, i % 2 === 0 ? 'bin' : 'externals', `d${i % 40}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, `f${i}.dll`), Buffer.alloc(i < large ? largeBytes : smallBytes, i % 251));
    }
    const hardlink: number[] = [];
    const copy: number[] = [];
    for (let run = 0; run < runs; run++) {
      let started = performance.now();
      await createRunnerRoot(pkg, join(dir, `link-${run}`));
      hardlink.push(performance.now() - started);
      started = performance.now();
      await cp(pkg, join(dir, `copy-${run}`), { recursive: true });
      copy.push(performance.now() - started);
      await rm(join(dir, `copy-${run}`), { recursive: true, force: true });
      await rm(join(dir, `link-${run}`), { recursive: true, force: true });
    }
    const hardlinkMs = round(median(hardlink), 1);
    const copyMs = round(median(copy), 1);
    return { hardlinkMs, copyMs, ratio: round(copyMs / Math.max(hardlinkMs, 0.001), 1) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchRunnerRoot()));
}
