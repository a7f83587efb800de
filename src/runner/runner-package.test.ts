import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJitpoolError } from '../core/index.ts';
import { DEFAULT_RUNNER_VERSION, PUBLISHED_RUNNER_SHA256, createRunnerRoot, ensureRunnerPackage, interpretRunnerExit, resolveRunnerPackageSpec, runnerEnvironment, runListener } from './index.ts';
import { buildRunnerArchive, forceRemove, servePackage } from './runner-test-helpers.ts';

async function setup(t: import('node:test').TestContext, listener: 'fake-runner' | 'record' = 'record') {
  const pkg = await buildRunnerArchive({ listener, exitCode: 7 });
  const server = await servePackage(pkg.bytes);
  const dir = mkdtempSync(join(tmpdir(), 'jp-pkg-'));
  t.after(async () => {
    await server.close();
    pkg.cleanup();
    forceRemove(dir);
  });
  const spec = { version: '2.330.0', sha256: pkg.sha256, urlTemplate: `${server.url}/v{version}/actions-runner-{os}-{arch}-{version}.tar.gz`, arch: 'x64', cacheDir: join(dir, 'cache') };
  return { pkg, server, dir, spec };
}

describe('runner package', () => {
  it('uses the digest GitHub published for the pinned version when none is given', () => {
    // docs/runner-package.md cites where these come from; a wrong one would fail the download (JP_RUNNER_CHECKSUM).
    assert.equal(resolveRunnerPackageSpec({ arch: 'x64' }).sha256, PUBLISHED_RUNNER_SHA256[DEFAULT_RUNNER_VERSION]?.x64);
    assert.equal(resolveRunnerPackageSpec({ arch: 'arm64' }).sha256, PUBLISHED_RUNNER_SHA256[DEFAULT_RUNNER_VERSION]?.arm64);
    assert.match(resolveRunnerPackageSpec({ arch: 'x64' }).sha256, /^[0-9a-f]{64}$/);
    // An operator's digest wins (a mirror with repacked archives).
    assert.equal(resolveRunnerPackageSpec({ arch: 'x64', sha256: 'C'.repeat(64) }).sha256, 'c'.repeat(64));
    // No shipped digest for linux arm (32-bit): the operator must give one.
    assert.throws(() => resolveRunnerPackageSpec({ arch: 'arm' }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID') && /actions-runner-linux-arm-2\.330\.0\.tar\.gz/.test(err.message));
  });

  it('fills the URL template and refuses versions GitHub no longer accepts', () => {
    const resolved = resolveRunnerPackageSpec({ sha256: 'a'.repeat(64), arch: 'arm64' });
    assert.equal(resolved.url, `https://github.com/actions/runner/releases/download/v${resolved.version}/actions-runner-linux-arm64-${resolved.version}.tar.gz`);
    assert.throws(() => resolveRunnerPackageSpec({ version: '2.328.0', sha256: 'a'.repeat(64) }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID') && /runner\.version/.test(err.message));
    // A version jitpool ships no digest for: the error says where GitHub publishes it.
    assert.throws(() => resolveRunnerPackageSpec({ version: '2.331.0', sha256: '' }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID') && /runner\.sha256/.test(err.message) && /releases\/tag\/v2\.331\.0/.test(err.fix ?? ''));
    assert.throws(() => resolveRunnerPackageSpec({ sha256: '0'.repeat(64) }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID') && /placeholder/.test(err.message));
    assert.throws(() => resolveRunnerPackageSpec({ sha256: 'a'.repeat(64), urlTemplate: 'ftp://x/{version}' }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));
  });

  it('downloads and extracts once per version; later calls use the cache', async (t) => {
    const { spec, server } = await setup(t);
    const [first, concurrent] = await Promise.all([ensureRunnerPackage(spec), ensureRunnerPackage(spec)]);
    assert.equal(first.dir, concurrent.dir);
    assert.equal(first.isFresh, true);
    assert.ok(existsSync(join(first.dir, 'bin', 'Runner.Listener')));
    const again = await ensureRunnerPackage(spec);
    assert.equal(again.isFresh, false);
    assert.equal(server.requests.length, 1);
    // Cached files are read-only, so nothing can write through a hard link.
    assert.equal(statSync(join(first.dir, 'bin', 'Runner.Worker.dll')).mode & 0o222, 0);
  });

  it('fails loudly on a digest mismatch and keeps nothing in the cache', async (t) => {
    const { spec } = await setup(t);
    await assert.rejects(ensureRunnerPackage({ ...spec, sha256: 'b'.repeat(64) }), (err) => isJitpoolError(err, 'JP_RUNNER_CHECKSUM'));
    assert.deepEqual(readdirSync(spec.cacheDir), []);
  });

  it('gives each runner a hard-linked root: binaries share inodes, written files do not', async (t) => {
    const { spec, dir } = await setup(t);
    const pkg = await ensureRunnerPackage(spec);
    const a = await createRunnerRoot(pkg.dir, join(dir, 'runners', 'a'));
    const b = await createRunnerRoot(pkg.dir, join(dir, 'runners', 'b'));
    assert.ok(a.linkedFiles > 20);
    const ino = (p: string) => statSync(p).ino;
    for (const file of ['bin/Runner.Listener', 'bin/Runner.Worker.dll', 'config.sh']) {
      assert.equal(ino(join(a.root, file)), ino(join(pkg.dir, file)), file);
      assert.equal(ino(join(b.root, file)), ino(join(pkg.dir, file)), file);
    }
    // Directories are fresh, so what a runner writes stays in its root.
    assert.notEqual(ino(join(a.root, 'bin')), ino(join(pkg.dir, 'bin')));
    writeFileSync(join(a.root, '.runner'), '{}');
    writeFileSync(join(a.root, 'bin', 'new.log'), 'x');
    assert.equal(existsSync(join(pkg.dir, '.runner')), false);
    assert.equal(existsSync(join(b.root, 'bin', 'new.log')), false);
    assert.equal(existsSync(join(a.root, '.jitpool-package.json')), false);
    // An in-place write to a shared binary is refused instead of corrupting the cache (root ignores modes).
    assert.equal(statSync(join(a.root, 'config.sh')).mode & 0o222, 0);
    if (process.getuid?.() !== 0) assert.throws(() => writeFileSync(join(a.root, 'config.sh'), 'evil'), /EACCES|EPERM/);
  });

  it('launches bin/Runner.Listener run with the JIT config in the environment and interprets its exit code', async (t) => {
    const { spec, dir } = await setup(t);
    const pkg = await ensureRunnerPackage(spec);
    const root = (await createRunnerRoot(pkg.dir, join(dir, 'runners', 'x'))).root;
    const result = await runListener({ root, runnerName: 'r', jitConfig: 'ZmFrZS1qaXQtY29uZmln', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: 'ignore' });
    assert.equal(result.exitCode, 7);
    assert.equal(result.meaning.kind, 'version-deprecated');
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(join(root, 'listener-calls.log'), 'utf8');
    assert.match(log, /argv: run\n/);
    assert.match(log, /jit: set/);
    assert.match(log, /deprecated-exit: 1/);
    assert.equal(runnerEnvironment({ runnerName: 'r', jitConfig: 'x' }).ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE, '1');
  });

  it('maps every documented exit code', () => {
    const kinds = [0, 1, 2, 3, 4, 5, 6, 7, 42].map((code) => interpretRunnerExit(code).kind);
    assert.deepEqual(kinds, ['done', 'terminated', 'retryable', 'updating', 'updating', 'session-conflict', 'configuration-refreshed', 'version-deprecated', 'unknown']);
    assert.equal(interpretRunnerExit(null, 'SIGKILL').kind, 'signal');
  });
});
