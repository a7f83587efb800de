import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Octokit } from '@octokit/rest';
import { silentLogger } from '../core/index.ts';
import { NspawnProvider } from '../providers/nspawn-provider.ts';
import { nspawnLeftovers, nspawnSkipReason, testNspawnOptions } from '../providers/nspawn-test-helpers.ts';
import { waitFor } from '../providers/provider-contract.ts';
import { startSimulator } from '../sim/index.ts';
import { buildImage, parseRecipe, readImage } from './index.ts';
import { buildFakeRunnerPackage } from './image-test-helpers.ts';

// The real recipe: debootstrap of Debian bookworm from deb.debian.org (or JITPOOL_TEST_DEBIAN_MIRROR)
// with seed 001's packages, the runner user, a runner package downloaded, verified and baked in, and
// the guest agent — then one job on an nspawn machine booted from it. Minutes of work and a few
// hundred MB of downloads, so opt-in: JITPOOL_TEST_DEBOOTSTRAP=1. The runner package is a stand-in
// served over HTTP from loopback (this test must not depend on github.com), which the pipeline treats
// exactly like the real archive: pinned version, SHA-256 verified, extracted, copied in.
const optIn = process.env.JITPOOL_TEST_DEBOOTSTRAP === '1';
const skip = !optIn ? 'set JITPOOL_TEST_DEBOOTSTRAP=1 to debootstrap a real Debian image (minutes)' : nspawnSkipReason();

test('a Debian image from debootstrap boots as an nspawn machine whose runner takes a job; rebuilding is a no-op', { skip, timeout: 45 * 60_000 }, async (t) => {
  const outRoot = mkdtempSync(join('/var/tmp', 'jitpool-debian-image-'));
  const runner = await buildFakeRunnerPackage();
  t.after(async () => {
    await runner.cleanup();
    if (process.env.JITPOOL_TEST_KEEP_IMAGE !== '1') rmSync(outRoot, { recursive: true, force: true });
  });
  const recipe = parseRecipe({
    name: 'debian-test', kind: 'debian', mirror: process.env.JITPOOL_TEST_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian',
    runner: { version: '2.330.0', sha256: runner.sha256, urlTemplate: runner.urlTemplate },
  });
  const startedAt = performance.now();
  const built = await buildImage(recipe, { outDir: join(outRoot, 'image'), logger: silentLogger() });
  const buildMs = performance.now() - startedAt;
  console.log(`# debian image: built in ${(buildMs / 1000).toFixed(1)} s, rootfs ${(built.manifest.sizes.rootfsBytes / 1024 / 1024).toFixed(1)} MiB, ${built.manifest.sizes.files} entries`);
  assert.equal(built.isFresh, true);
  const { rootfs, manifest } = readImage(built.dir);
  for (const tool of ['usr/bin/curl', 'usr/bin/jq', 'bin/tar', 'usr/bin/git', 'etc/ssl/certs/ca-certificates.crt', 'usr/local/bin/jitpool-agent', 'home/runner/actions-runner/bin/Runner.Listener']) {
    assert.ok(existsSync(join(rootfs, tool)), `${tool} is in the image`);
  }
  assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /^runner:x:1001:1001:/m);
  assert.equal(statSync(join(rootfs, 'home/runner/actions-runner/bin/Runner.Listener')).uid, 1001);
  assert.equal(manifest.runnerVersion, '2.330.0');

  const again = await buildImage(recipe, { outDir: join(outRoot, 'image'), logger: silentLogger() });
  assert.equal(again.isFresh, false, 'an unchanged recipe is a no-op');
  assert.equal(again.manifest.inputDigest, manifest.inputDigest);

  const sim = await startSimulator({ host: '127.0.0.1', offlineAfterMs: 8000 });
  t.after(() => sim.close());
  const octokit = new Octokit({ baseUrl: sim.url, auth: 'ghp_debian', log: { debug() {}, info() {}, warn() {}, error() {} } });
  const name = 'jp-debian-img1';
  const { data } = await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'img-org', name, runner_group_id: 1, labels: ['self-hosted', 'debian'] });
  const workRoot = join(outRoot, 'machines');
  const provider = new NspawnProvider(testNspawnOptions('img', workRoot, built.dir, 'host'));
  t.after(() => provider.close());
  await provider.preflight();
  await provider.create({ runnerId: 'img1', runnerName: name, pool: 'img', controllerId: 'img', labels: ['self-hosted', 'debian'], jitConfig: data.encoded_jit_config, context: {} });
  await sim.waitFor((s) => s.runners().some((r) => r.name === name && r.status === 'online'), 120_000);
  const job = sim.queueJob({ owner: 'img-org', repo: 'app', labels: ['self-hosted', 'debian'], durationMs: 300 });
  const exited = await waitFor(async () => {
    const info = await provider.inspect(name);
    return info?.state === 'exited' ? info : null;
  }, 'the machine exits after its job', 120_000);
  assert.equal(exited.exitCode, 0, await provider.logs(name, 20));
  assert.equal(sim.jobs().find((j) => j.id === job.id)?.conclusion, 'success');
  assert.match(await provider.logs(name, 20), /jitpool-agent: runner exited 0/);
  await provider.delete(name);
  assert.deepEqual(await nspawnLeftovers(workRoot, name), []);
});
