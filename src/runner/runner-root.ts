import { chmod, copyFile, link, lstat, mkdir, open, readdir, readlink, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { JitpoolError } from '../core/index.ts';

/**
 * Files the runner (or its scripts) rewrites in place in its root. They are copied, never
 * linked: `run.sh` does `cp -f run-helper.sh.template run-helper.sh`, `config.sh` writes `.env`
 * and `.path`, `svc.sh` is generated — an in-place write to a hard link would reach the cache.
 * (They are not in the official archive today; the list protects a package that ships them.)
 */
export const COPIED_FILES: ReadonlySet<string> = new Set([
  'run-helper.sh', '.env', '.path', 'svc.sh', '.runner', '.credentials', '.credentials_rsaparams', '.service', '.setup_info',
]);

/** Names never taken from the package (state of a runner that a cache must not carry). */
const SKIPPED = new Set(['.jitpool-package.json', '_work', '_diag']);

/** What {@link createRunnerRoot} made. */
export interface RunnerRootResult {
  root: string;
  linkedFiles: number;
  copiedFiles: number;
  directories: number;
}

/**
 * Gives one runner its own root from an extracted package, cheaply: every directory is created
 * fresh (so whatever the runner creates — `.runner`, `.credentials`, `_work`, `_diag` — lands in
 * the root, never in the cache), every regular file is a hard link to the package's read-only
 * copy, symlinks are recreated, and {@link COPIED_FILES} are copied. `root` may already exist
 * (the provider's work directory); existing entries are refused rather than overwritten.
 * Falls back to copying when the cache is on another filesystem (EXDEV).
 */
export async function createRunnerRoot(packageDir: string, root: string): Promise<RunnerRootResult> {
  const result: RunnerRootResult = { root, linkedFiles: 0, copiedFiles: 0, directories: 0 };
  await mkdir(root, { recursive: true, mode: 0o700 });
  await cloneDir(packageDir, root, packageDir, result, true);
  return result;
}

async function cloneDir(from: string, to: string, packageDir: string, result: RunnerRootResult, isTop: boolean): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (isTop && SKIPPED.has(entry.name)) continue;
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    try {
      if (entry.isDirectory()) {
        const { mode } = await lstat(source);
        await mkdir(target, { mode: (mode & 0o777) | 0o700 });
        result.directories += 1;
        await cloneDir(source, target, packageDir, result, false);
      } else if (entry.isSymbolicLink()) {
        await symlink(await readlink(source), target);
      } else if (entry.isFile()) {
        if (isTop && COPIED_FILES.has(entry.name)) {
          await copyWritable(source, target);
          result.copiedFiles += 1;
        } else if (await linkOrCopy(source, target)) result.linkedFiles += 1;
        else result.copiedFiles += 1;
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new JitpoolError('JP_RUNNER_PACKAGE', `could not place ${relative(packageDir, source)} in the runner root ${to}: ${code ?? (err as Error).message}`, { cause: err });
    }
  }
}

/** Hard-links; copies across filesystems. Returns true when linked. */
async function linkOrCopy(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    await copyFile(source, target);
    return false;
  }
}

async function copyWritable(source: string, target: string): Promise<void> {
  await copyFile(source, target);
  const { mode } = await lstat(source);
  await chmod(target, (mode & 0o777) | 0o200);
}

/** What {@link prepareMountedRoot} made: the package entries to mount read-only over their stubs. */
export interface MountedRootResult {
  root: string;
  /** Top-level names of the package (`bin`, `externals`, `run.sh`, …), each with an empty stub in `root`. */
  mounted: string[];
  copiedFiles: number;
}

/**
 * Prepares a runner root whose package files are *mounted* read-only by a sandbox instead of
 * linked: for every top-level entry of the package an empty stub (directory or file) is created
 * in `root` for the mount to cover; {@link COPIED_FILES} are copied writable and symlinks
 * recreated, as {@link createRunnerRoot} does. Whatever the runner writes (`.runner`,
 * `.credentials`, `_diag`, `_work`) lands in `root`; nothing in `root` shares an inode with the
 * cache, so no job can write through to the package.
 */
export async function prepareMountedRoot(packageDir: string, root: string): Promise<MountedRootResult> {
  const result: MountedRootResult = { root, mounted: [], copiedFiles: 0 };
  await mkdir(root, { recursive: true, mode: 0o700 });
  for (const entry of await readdir(packageDir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const source = join(packageDir, entry.name);
    const target = join(root, entry.name);
    try {
      if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
      else if (entry.isFile() && COPIED_FILES.has(entry.name)) {
        await copyWritable(source, target);
        result.copiedFiles += 1;
      } else if (entry.isDirectory() || entry.isFile()) {
        if (entry.isDirectory()) await mkdir(target, { mode: 0o755 });
        else await (await open(target, 'wx', 0o444)).close();
        result.mounted.push(entry.name);
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new JitpoolError('JP_RUNNER_PACKAGE', `could not prepare ${entry.name} in the runner root ${root}: ${code ?? (err as Error).message}`, { cause: err });
    }
  }
  return result;
}
