import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isJitpoolError } from '../core/index.ts';
import { downloadVerified } from './download.ts';
import { buildRunnerArchive, servePackage } from './runner-test-helpers.ts';

async function setup(t: import('node:test').TestContext, mode: Parameters<typeof servePackage>[1]) {
  const pkg = await buildRunnerArchive();
  const server = await servePackage(pkg.bytes, mode);
  const dir = mkdtempSync(join(tmpdir(), 'jp-dl-'));
  t.after(async () => {
    await server.close();
    pkg.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  return { pkg, server, dest: join(dir, 'runner.tar.gz') };
}

describe('downloadVerified', () => {
  it('downloads, verifies and renames into place', async (t) => {
    const { pkg, server, dest } = await setup(t, 'ok');
    const result = await downloadVerified({ url: `${server.url}/pkg.tar.gz`, dest, sha256: pkg.sha256.toUpperCase(), retryDelayMs: 10 });
    assert.equal(result.attempts, 1);
    assert.deepEqual(readFileSync(dest), pkg.bytes);
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it('deletes the file and fails with JP_RUNNER_CHECKSUM on a wrong digest, without retrying', async (t) => {
    const { server, dest } = await setup(t, 'ok');
    await assert.rejects(
      downloadVerified({ url: `${server.url}/pkg.tar.gz`, dest, sha256: 'a'.repeat(64), retryDelayMs: 10 }),
      (err) => isJitpoolError(err, 'JP_RUNNER_CHECKSUM') && err.details.expected === 'a'.repeat(64),
    );
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(`${dest}.part`), false);
    assert.equal(server.requests.length, 1);
  });

  it('catches a truncated download that looks complete by its digest, and deletes it', async (t) => {
    const { pkg, server, dest } = await setup(t, 'truncate');
    await assert.rejects(downloadVerified({ url: `${server.url}/pkg.tar.gz`, dest, sha256: pkg.sha256, retryDelayMs: 10 }), (err) => isJitpoolError(err, 'JP_RUNNER_CHECKSUM'));
    assert.equal(existsSync(dest), false);
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it('resumes an interrupted connection with a Range request', async (t) => {
    const { pkg, server, dest } = await setup(t, 'interrupt-once');
    const result = await downloadVerified({ url: `${server.url}/pkg.tar.gz`, dest, sha256: pkg.sha256, retryDelayMs: 10 });
    assert.equal(result.attempts, 2);
    assert.equal(result.resumed, true);
    assert.equal(server.requests[0]?.range, null);
    assert.match(server.requests[1]?.range ?? '', /^bytes=\d+-$/);
    assert.deepEqual(readFileSync(dest), pkg.bytes);
  });

  it('gives up with a retryable JP_RUNNER_DOWNLOAD when every attempt is cut, leaving no final file', async (t) => {
    const { pkg, server, dest } = await setup(t, 'interrupt-always');
    await assert.rejects(
      downloadVerified({ url: `${server.url}/pkg.tar.gz`, dest, sha256: pkg.sha256, attempts: 2, retryDelayMs: 10 }),
      (err) => isJitpoolError(err, 'JP_RUNNER_DOWNLOAD') && err.retryable,
    );
    assert.equal(existsSync(dest), false);
  });

  it('starts over when the server ignores Range', async (t) => {
    // The first attempt is cut; the server does not honour Range, so the second sends everything.
    const { pkg, server, dest } = await setup(t, 'interrupt-once-no-range');
    const result = await downloadVerified({ url: `${server.url}/pkg.tar.gz`, dest, sha256: pkg.sha256, retryDelayMs: 10 });
    assert.equal(result.attempts, 2);
    assert.equal(result.resumed, false);
    assert.deepEqual(readFileSync(dest), pkg.bytes);
  });

  it('refuses a malformed digest naming the field', async (t) => {
    const { server, dest } = await setup(t, 'ok');
    await assert.rejects(downloadVerified({ url: `${server.url}/x`, dest, sha256: 'nope' }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID') && /sha256/.test(err.message));
  });
});
