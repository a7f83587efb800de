import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { JitpoolError, type Logger } from '../core/index.ts';
import { downloadVerified, normalizeSha256, safeUrl } from './download.ts';

const execFileAsync = promisify(execFile);

/**
 * The pinned default. GitHub refuses runners older than its minimum version (v2.329.0 since
 * March 2026, https://github.blog/changelog/ — "minimum version enforcement"), so this tracks it.
 */
export const DEFAULT_RUNNER_VERSION = '2.330.0';

/** The minimum version GitHub accepts; older pins are refused at configuration time. */
export const MIN_RUNNER_VERSION = '2.329.0';

/** The official release asset; `{version}`, `{os}` and `{arch}` are filled in. */
export const DEFAULT_URL_TEMPLATE = 'https://github.com/actions/runner/releases/download/v{version}/actions-runner-{os}-{arch}-{version}.tar.gz';

/**
 * The SHA-256 of each runner package jitpool knows, by version and architecture, as GitHub
 * publishes them in the release notes ("SHA-256 Checksums",
 * https://github.com/actions/runner/releases/tag/v2.330.0) and in the download instructions of
 * Settings → Actions → Runners → New self-hosted runner. The download is verified against it, so
 * a wrong entry fails loudly (JP_RUNNER_CHECKSUM) and never runs unverified bytes. Listed in
 * docs/runner-package.md with its source; a version or architecture missing here needs
 * `runner.sha256` (or JITPOOL_RUNNER_SHA256).
 */
export const PUBLISHED_RUNNER_SHA256: Readonly<Record<string, Readonly<Partial<Record<string, string>>>>> = {
  '2.330.0': {
    x64: 'af5c33fa94f3cc33b8e97937939136a6b04197e6dadfcfb3b6e33ae1bf41e79a',
    arm64: '9cb43527912086c7c8fb4119cb06409fcbcbd6f93a2d8507f30b07c495620f5c',
  },
};

/** The published SHA-256 of `actions-runner-linux-<arch>-<version>.tar.gz`, when jitpool ships it. */
export function publishedRunnerSha256(version: string, arch: string): string | undefined {
  return PUBLISHED_RUNNER_SHA256[version]?.[arch];
}

/** Which runner package to use. */
export interface RunnerPackageSpec {
  /** @default DEFAULT_RUNNER_VERSION */
  version?: string;
  /** Expected SHA-256 of the archive (`JITPOOL_RUNNER_SHA256`). @default the published digest of the version ({@link PUBLISHED_RUNNER_SHA256}) */
  sha256?: string;
  /** Download URL with `{version}`, `{os}`, `{arch}` placeholders (mirrors, air-gapped hosts). @default DEFAULT_URL_TEMPLATE */
  urlTemplate?: string;
  /** `x64`, `arm64` or `arm`. @default the host's */
  arch?: string;
  /** Where archives and extracted packages are kept. @default ~/.cache/jitpool/runner */
  cacheDir?: string;
  /** Allow a version below {@link MIN_RUNNER_VERSION} (GHES instances with older minimums). @default false */
  allowOldVersion?: boolean;
}

/** A package ready to use: its extracted directory (read-only: hard-link roots from it). */
export interface RunnerPackage {
  version: string;
  arch: string;
  url: string;
  sha256: string;
  dir: string;
  /** True when it was downloaded (or extracted) by this call; false when the cache had it. */
  isFresh: boolean;
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The runner's name for the host architecture. */
export function hostRunnerArch(arch: string = process.arch): string {
  if (arch === 'x64' || arch === 'arm64' || arch === 'arm') return arch;
  throw new JitpoolError('JP_RUNNER_PACKAGE', `the actions runner is not built for architecture ${arch}`);
}

/** The default cache directory: $XDG_CACHE_HOME/jitpool/runner, else ~/.cache/jitpool/runner. */
export function defaultRunnerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'jitpool', 'runner');
}

/** Validates a spec and fills its defaults; throws `JP_INPUT_INVALID` naming the field. */
export function resolveRunnerPackageSpec(spec: RunnerPackageSpec): Required<RunnerPackageSpec> & { url: string } {
  const version = spec.version ?? DEFAULT_RUNNER_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new JitpoolError('JP_INPUT_INVALID', `runner.version: expected MAJOR.MINOR.PATCH, got ${JSON.stringify(version.slice(0, 40))}`);
  if (!spec.allowOldVersion && compareVersions(version, MIN_RUNNER_VERSION) < 0) {
    throw new JitpoolError('JP_INPUT_INVALID', `runner.version: ${version} is older than ${MIN_RUNNER_VERSION}, the oldest runner GitHub accepts`);
  }
  const arch = spec.arch ?? hostRunnerArch();
  if (!/^(x64|arm64|arm)$/.test(arch)) throw new JitpoolError('JP_INPUT_INVALID', `runner.arch: expected x64, arm64 or arm`);
  const urlTemplate = spec.urlTemplate ?? DEFAULT_URL_TEMPLATE;
  const url = urlTemplate.replaceAll('{version}', version).replaceAll('{arch}', arch).replaceAll('{os}', 'linux');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new JitpoolError('JP_INPUT_INVALID', 'runner.urlTemplate: not a URL once filled in');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:' && parsed.protocol !== 'file:') {
    throw new JitpoolError('JP_INPUT_INVALID', 'runner.urlTemplate: only https, http and file URLs are supported');
  }
  const sha256 = spec.sha256 || publishedRunnerSha256(version, arch);
  if (!sha256) {
    const file = `actions-runner-linux-${arch}-${version}.tar.gz`;
    throw new JitpoolError('JP_INPUT_INVALID', `runner.sha256: jitpool does not ship the digest of ${file} (it knows ${Object.keys(PUBLISHED_RUNNER_SHA256).join(', ')})`, {
      fix: `copy the SHA-256 of ${file} from "SHA-256 Checksums" at https://github.com/actions/runner/releases/tag/v${version} into runner.sha256 (or JITPOOL_RUNNER_SHA256, --runner-sha256)`,
    });
  }
  return { version, arch, urlTemplate, url, sha256: normalizeSha256(sha256, 'runner.sha256'), cacheDir: spec.cacheDir ?? defaultRunnerCacheDir(), allowOldVersion: spec.allowOldVersion ?? false };
}

const MARKER = '.jitpool-package.json';
const inFlight = new Map<string, Promise<RunnerPackage>>();

/**
 * Makes the package available, once per version and digest: downloaded (verified, atomically
 * renamed), extracted with `tar` into a temporary directory renamed into place, its files made
 * read-only so a runner root hard-linked to them can never write through to the cache.
 * Concurrent callers in one process share one download; across processes the renames make the
 * loser reuse the winner's directory.
 */
export async function ensureRunnerPackage(spec: RunnerPackageSpec, options: { logger?: Logger; fetch?: typeof fetch } = {}): Promise<RunnerPackage> {
  const resolved = resolveRunnerPackageSpec(spec);
  const key = `${resolved.cacheDir}|${resolved.version}|${resolved.arch}|${resolved.sha256}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = preparePackage(resolved, options).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

async function preparePackage(spec: ReturnType<typeof resolveRunnerPackageSpec>, options: { logger?: Logger; fetch?: typeof fetch }): Promise<RunnerPackage> {
  const base = `actions-runner-linux-${spec.arch}-${spec.version}`;
  // The digest is part of the directory name: a changed pin never reuses stale bytes.
  const dir = join(spec.cacheDir, `${base}-${spec.sha256.slice(0, 12)}`);
  const info = { version: spec.version, arch: spec.arch, url: safeUrl(spec.url), sha256: spec.sha256, dir };
  if (await isExtracted(dir, spec.sha256)) return { ...info, isFresh: false };
  await mkdir(spec.cacheDir, { recursive: true, mode: 0o755 });
  const archive = join(spec.cacheDir, `${base}-${spec.sha256.slice(0, 12)}.tar.gz`);
  if (!existsSync(archive)) {
    options.logger?.info({ component: 'runner.package', url: info.url, version: spec.version }, 'downloading the runner package');
    await downloadVerified({ url: spec.url, dest: archive, sha256: spec.sha256, fetch: options.fetch });
  }
  await extractArchive(archive, dir, spec.sha256);
  options.logger?.info({ component: 'runner.package', dir, version: spec.version }, 'runner package extracted');
  return { ...info, isFresh: true };
}

async function isExtracted(dir: string, sha256: string): Promise<boolean> {
  try {
    const marker = JSON.parse(await readFile(join(dir, MARKER), 'utf8')) as { sha256?: string };
    return marker.sha256 === sha256;
  } catch {
    return false;
  }
}

/** Extracts `archive` (gzip tar) into `dir` through a temporary sibling and an atomic rename. */
export async function extractArchive(archive: string, dir: string, sha256: string): Promise<void> {
  const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(tmp, { recursive: true, mode: 0o755 });
  try {
    // argv, never a shell; GNU tar already refuses absolute and `..` member names.
    await execFileAsync('tar', ['-xzf', archive, '-C', tmp, '--no-same-owner', '--delay-directory-restore'], { maxBuffer: 1024 * 1024 });
    await makeReadOnly(tmp);
    await writeFile(join(tmp, MARKER), JSON.stringify({ sha256, extractedAt: new Date().toISOString() }), { mode: 0o444 });
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another process finished first: keep its copy.
      if (!(await isExtracted(dir, sha256))) throw err;
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (err instanceof JitpoolError) throw err;
    const stderr = String((err as { stderr?: unknown }).stderr ?? (err as Error).message).trim().slice(0, 300);
    throw new JitpoolError('JP_RUNNER_PACKAGE', `could not extract ${archive}: ${stderr}`, { cause: err });
  }
}

/** Removes write permission from every regular file (directories stay writable for cleanup). */
async function makeReadOnly(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makeReadOnly(path);
    else if (entry.isFile()) {
      const { mode } = await lstat(path);
      await chmod(path, mode & ~0o222);
    }
  }
}
