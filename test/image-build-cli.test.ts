import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './cli-helpers.ts';

const hasBusybox = existsSync('/bin/busybox') || existsSync('/usr/bin/busybox');
const skip = process.getuid?.() !== 0 ? 'jitpool image build needs root' : !hasBusybox ? 'the test image needs busybox (apt-get install busybox-static)' : false;

test('jitpool image build: --test into --out, a no-op the second time; -c builds each nspawn pool’s recipe into its image; bad arguments exit 2', { skip, timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join('/var/tmp', 'jitpool-image-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await runCli(['image', 'build', '--test', '--out', join(dir, 'a'), '--json']);
  assert.equal(first.code, 0, first.stderr);
  const built = JSON.parse(first.stdout) as { ok: boolean; isFresh: boolean; manifest: { kind: string; inputDigest: string } };
  assert.deepEqual([built.ok, built.isFresh, built.manifest.kind], [true, true, 'test']);
  const second = JSON.parse((await runCli(['image', 'build', '--test', '--out', join(dir, 'a'), '--json'])).stdout) as typeof built;
  assert.equal(second.isFresh, false);
  assert.equal(second.manifest.inputDigest, built.manifest.inputDigest);

  writeFileSync(join(dir, 'recipe.yaml'), 'name: from-config\nkind: test\n');
  writeFileSync(join(dir, 'jitpool.yaml'), [
    'github: { auth: { kind: pat, token: { env: [NO_SUCH_TOKEN_NEEDED] } } }',
    'pools:',
    `  - { name: m, scope: { kind: org, org: acme }, labels: [self-hosted, m], provider: { kind: nspawn, image: "${join(dir, 'b')}", recipe: "${join(dir, 'recipe.yaml')}" } }`,
    `  - { name: p, scope: { kind: org, org: acme }, labels: [self-hosted, p], provider: { kind: process, command: [/bin/true] } }`,
  ].join('\n'));
  const fromConfig = await runCli(['image', 'build', '-c', join(dir, 'jitpool.yaml'), '--json']);
  assert.equal(fromConfig.code, 0, fromConfig.stderr + fromConfig.stdout);
  const images = (JSON.parse(fromConfig.stdout) as { images: Array<{ dir: string; manifest: { name: string } }> }).images;
  assert.deepEqual(images.map((image) => [image.dir, image.manifest.name]), [[join(dir, 'b'), 'from-config']]);
  assert.ok(existsSync(join(dir, 'b', 'rootfs', 'usr/local/bin/jitpool-agent')));

  const none = await runCli(['image', 'build', '-c', join(dir, 'jitpool.yaml'), '--pool', 'p']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no nspawn pool named p with a `recipe`/);
  const both = await runCli(['image', 'build', '--test', join(dir, 'recipe.yaml'), '--out', join(dir, 'c')]);
  assert.equal(both.code, 2);
  const noOut = await runCli(['image', 'build', join(dir, 'recipe.yaml')]);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /--out/);
});
