import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { JitpoolError, type Logger } from '../core/index.ts';
import { ensureRunnerPackage, type RunnerPackage } from '../runner/index.ts';
import { DEBIAN_BASE_PACKAGES, type ImageRecipe } from './recipe.ts';
import { RUNNER_HOME, RUNNER_UID, RUNNER_USER } from './rootfs-common.ts';

const execFileAsync = promisify(execFile);

/** A debootstrap of a few minutes, with room for a slow mirror. */
const DEBOOTSTRAP_TIMEOUT_MS = 30 * 60_000;

type DebianRecipe = Extract<ImageRecipe, { kind: 'debian' }>;

/**
 * Builds a Debian root with debootstrap (minbase + seed 001's packages + the runner's libraries)
 * from the recipe's mirror, adds the non-root `runner` user and bakes the pinned runner package in
 * (downloaded once, SHA-256 verified, cached), so no job ever downloads it. Apt's caches and
 * lists are removed: the image is read-only under every machine anyway.
 */
export async function assembleDebianRootfs(rootfs: string, recipe: DebianRecipe, options: { cacheDir: string; logger: Logger }): Promise<RunnerPackage> {
  await requireTool('debootstrap', 'apt-get install debootstrap');
  const pkg = await ensureRunnerPackage({ ...recipe.runner, cacheDir: recipe.runner.cacheDir ?? options.cacheDir }, { logger: options.logger });
  const packages = [...new Set([...DEBIAN_BASE_PACKAGES, ...recipe.packages])];
  options.logger.info({ component: 'images', suite: recipe.suite, mirror: recipe.mirror, packages: packages.length }, 'debootstrap starts');
  await run('debootstrap', ['--variant=minbase', `--include=${packages.join(',')}`, '--components=main', recipe.suite, rootfs, recipe.mirror], DEBOOTSTRAP_TIMEOUT_MS);
  await run('chroot', [rootfs, 'useradd', '--create-home', '--uid', String(RUNNER_UID), '--user-group', '--shell', '/bin/bash', RUNNER_USER], 60_000);
  const target = join(rootfs, RUNNER_HOME, 'actions-runner');
  await run('cp', ['-a', '--no-preserve=ownership', `${pkg.dir}/.`, target], 300_000);
  await run('chown', ['-R', `${RUNNER_UID}:${RUNNER_UID}`, target], 300_000);
  if (!existsSync(join(target, 'bin/Runner.Listener'))) throw new JitpoolError('JP_RUNNER_PACKAGE', `the runner package ${pkg.version} has no bin/Runner.Listener`);
  for (const junk of ['var/cache/apt/archives', 'var/lib/apt/lists', 'var/log/apt']) {
    await rm(join(rootfs, junk), { recursive: true, force: true });
  }
  await run('mkdir', ['-p', join(rootfs, 'var/cache/apt/archives/partial'), join(rootfs, 'var/lib/apt/lists/partial')], 10_000);
  return pkg;
}

async function requireTool(tool: string, fix: string): Promise<void> {
  try {
    await execFileAsync('sh', ['-c', `command -v ${tool}`]);
  } catch {
    throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', `${tool} is not installed: ${fix}`);
  }
}

async function run(command: string, args: string[], timeoutMs: number): Promise<void> {
  try {
    await execFileAsync(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const detail = `${(err as { stderr?: string }).stderr ?? ''}${(err as { stdout?: string }).stdout ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    throw new JitpoolError('JP_COMMAND_FAILED', `image build: ${command} ${args.slice(0, 3).join(' ')} failed: ${detail || (err as Error).message}`, { cause: err });
  }
}
