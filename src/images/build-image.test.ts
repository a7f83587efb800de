import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { silentLogger } from '../core/index.ts';
import { buildImage, parseRecipe, readImage, TEST_RECIPE } from './index.ts';

const hasBusybox = existsSync('/bin/busybox') || existsSync('/usr/bin/busybox');
const skip = process.getuid?.() !== 0 ? 'the image build chowns files to the runner user: needs root' : !hasBusybox ? 'the test image needs busybox (apt-get install busybox-static)' : false;

describe('image build', () => {
  test('the test image: root with the agent, the runner user and the fake runner at the runner path; a manifest; an unchanged rebuild is a no-op', { skip, timeout: 300_000 }, async (t) => {
    const outDir = join(mkdtempSync(join(tmpdir(), 'jitpool-image-test-')), 'image');
    t.after(() => rmSync(join(outDir, '..'), { recursive: true, force: true }));
    const built = await buildImage(TEST_RECIPE, { outDir, logger: silentLogger() });
    assert.equal(built.isFresh, true);
    const { manifest, rootfs } = readImage(outDir);
    assert.equal(rootfs, built.rootfs);
    assert.equal(readlinkSync(join(outDir, 'rootfs')), manifest.rootfsDir);
    assert.deepEqual([manifest.name, manifest.kind, manifest.runnerVersion], ['jitpool-test', 'test', 'fake']);
    assert.match(manifest.inputDigest, /^[0-9a-f]{64}$/);
    assert.ok(manifest.sizes.rootfsBytes > 10 * 1024 * 1024 && manifest.sizes.files > 10, JSON.stringify(manifest.sizes));
    assert.ok(Number.isFinite(Date.parse(manifest.createdAt)));
    assert.equal(statSync(join(rootfs, 'usr/local/bin/jitpool-agent')).mode & 0o777, 0o755);
    assert.equal(readFileSync(join(rootfs, 'usr/local/bin/jitpool-agent'), 'utf8'), readFileSync(new URL('./guest-agent.sh', import.meta.url), 'utf8'));
    assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /^runner:x:1001:1001:runner:\/home\/runner:/m);
    assert.equal(statSync(join(rootfs, 'home/runner')).uid, 1001);
    assert.match(readFileSync(join(rootfs, 'home/runner/actions-runner/bin/Runner.Listener'), 'utf8'), /fake-runner\.ts/);
    assert.ok(existsSync(join(rootfs, 'opt/jitpool/fake-runner/src/sim/fake-runner.ts')));
    assert.ok(existsSync(join(rootfs, 'usr/local/bin/node')));
    assert.equal(readlinkSync(join(rootfs, 'bin/sh')), '/bin/busybox');

    const again = await buildImage(TEST_RECIPE, { outDir, logger: silentLogger() });
    assert.equal(again.isFresh, false, 'nothing changed, nothing built');
    assert.equal(again.manifest.inputDigest, manifest.inputDigest);
    assert.equal(again.manifest.createdAt, manifest.createdAt);
  });

  test('recipes are validated field by field; a missing image names the command that builds it', () => {
    assert.throws(() => parseRecipe({ name: 'x', kind: 'debian' }), (err: { code?: string; message: string }) => err.code === 'JP_CONFIG_INVALID' && /runner/.test(err.message));
    assert.throws(() => parseRecipe({ name: 'Bad Name', kind: 'test' }), { code: 'JP_CONFIG_INVALID' });
    assert.throws(() => parseRecipe({ name: 'x', kind: 'debian', packages: ['ok', 'no;rm -rf'], runner: { sha256: 'a'.repeat(64) } }), { code: 'JP_CONFIG_INVALID' });
    const recipe = parseRecipe({ name: 'deb', kind: 'debian', runner: { sha256: 'a'.repeat(64) } });
    assert.equal(recipe.kind === 'debian' && recipe.mirror, 'http://deb.debian.org/debian');
    assert.equal(recipe.kind === 'debian' && recipe.suite, 'bookworm');
    assert.throws(() => readImage(join(tmpdir(), 'jitpool-no-such-image')), (err: { code?: string; message: string }) => err.code === 'JP_PROVIDER_IMAGE_MISSING' && /jitpool image build/.test(err.message));
  });
});
