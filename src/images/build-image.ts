import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JitpoolError, writeFileAtomic, type Logger } from '../core/index.ts';
import { assembleDebianRootfs } from './debian-rootfs.ts';
import { TEST_RECIPE, type ImageRecipe } from './recipe.ts';
import { VM_ARTIFACT_FILES, buildVmArtifacts, type VmArtifactsOptions } from './vm-artifacts.ts';
import { GUEST_AGENT_SCRIPT, installAgent } from './rootfs-common.ts';
import { PROJECT_ROOT, assembleTestRootfs, resolveTestImageInputs } from './test-rootfs.ts';

/** The pipeline's format version (part of every input digest, with the pipeline's own sources). */
export const IMAGE_BUILDER_VERSION = 1;

/** `manifest.json` of an image directory. */
export interface ImageManifest {
  name: string;
  kind: ImageRecipe['kind'];
  recipe: ImageRecipe;
  /** SHA-256 of everything the build read (recipe, agent, pinned runner, test-image binaries): equal digest, equal image. */
  inputDigest: string;
  /** The runner baked in (`fake` in the test image). */
  runnerVersion: string;
  createdAt: string;
  buildSeconds: number;
  /** The root directory, relative to the image directory (`rootfs` links to it). */
  rootfsDir: string;
  sizes: { rootfsBytes: number; files: number };
  builderVersion: number;
}

/** What {@link buildImage} returns. */
export interface BuiltImage {
  dir: string;
  /** The root directory machines boot from (resolved, never written by a machine). */
  rootfs: string;
  manifest: ImageManifest;
  /** False when the recipe was unchanged and nothing was built. */
  isFresh: boolean;
}

/** Options of {@link buildImage}. */
export interface BuildImageOptions {
  /** The image directory: `manifest.json`, `rootfs` (a link) and `rootfs-<digest>/`. */
  outDir: string;
  logger: Logger;
  /** Where runner archives are cached. @default <outDir>/../.runner-cache */
  runnerCacheDir?: string;
  /** Also make the `vm` provider's files from the root (disk.img, vmlinux, initrd.img); up to date when `vm.json` names this root. */
  vm?: boolean | VmArtifactsOptions;
}

/** `vm.json` of an image directory: which root the VM files were made from. */
export interface VmManifest {
  inputDigest: string;
  rootfsDir: string;
  kernelVersion: string;
  sizes: { diskBytes: number; kernelBytes: number; initrdBytes: number };
  buildSeconds: number;
}

const inFlight = new Map<string, Promise<BuiltImage>>();

/**
 * `jitpool image build`: recipe → image directory. The input digest (recipe, guest agent, pinned
 * runner digest, and for the test image the Node binary, its libraries and the fake runner's
 * sources) decides: an unchanged recipe is a no-op. A new root is assembled beside the old one
 * and swapped in by renaming the `rootfs` link, so machines already booted from the old root keep
 * it (it is pruned once no overlay uses it). The VM artifacts (`disk.img`, kernel, initrd) are
 * made from the same root by `buildVmArtifacts` (src/images/vm-artifacts.ts).
 */
export async function buildImage(recipe: ImageRecipe, options: BuildImageOptions): Promise<BuiltImage> {
  const outDir = resolve(options.outDir);
  let pending = inFlight.get(outDir);
  if (!pending) {
    pending = build(recipe, { ...options, outDir }).finally(() => inFlight.delete(outDir));
    inFlight.set(outDir, pending);
  }
  const built = await pending;
  if (options.vm) await ensureVmFiles(built, options.vm === true ? {} : options.vm, options.logger);
  return built;
}

/**
 * The VM files of an image, made from its root when `vm.json` does not name that root. They are
 * made in a scratch directory and renamed into place: a VM already running keeps the disk it
 * opened, new VMs get the new one.
 */
async function ensureVmFiles(built: BuiltImage, vmOptions: VmArtifactsOptions, logger: Logger): Promise<void> {
  const file = join(built.dir, 'vm.json');
  try {
    const current = JSON.parse(readFileSync(file, 'utf8')) as VmManifest;
    if (current.inputDigest === built.manifest.inputDigest && current.rootfsDir === built.manifest.rootfsDir && Object.values(VM_ARTIFACT_FILES).every((name) => existsSync(join(built.dir, name)))) return;
  } catch {
    // No VM files yet.
  }
  const log = logger.child({ component: 'images', image: built.manifest.name });
  const startedAt = performance.now();
  const scratch = join(built.dir, `.vm-${randomBytes(4).toString('hex')}`);
  try {
    const made = await buildVmArtifacts(built.rootfs, scratch, { ...vmOptions, log: vmOptions.log ?? ((line) => log.info(line)) });
    for (const name of Object.values(VM_ARTIFACT_FILES)) await rename(join(scratch, name), join(built.dir, name));
    const vm: VmManifest = {
      inputDigest: built.manifest.inputDigest, rootfsDir: built.manifest.rootfsDir, kernelVersion: made.kernelVersion,
      sizes: { diskBytes: made.diskBytes, kernelBytes: made.kernelBytes, initrdBytes: made.initrdBytes },
      buildSeconds: Math.round((performance.now() - startedAt) / 100) / 10,
    };
    await writeFileAtomic(file, `${JSON.stringify(vm, null, 2)}\n`, 0o644);
    log.info({ kernelVersion: made.kernelVersion, diskBytes: made.diskBytes, buildSeconds: vm.buildSeconds }, 'VM files built');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Builds (or finds up to date) the test image in `outDir`. */
export function buildTestImage(outDir: string, logger: Logger): Promise<BuiltImage> {
  return buildImage(TEST_RECIPE, { outDir, logger });
}

/** Reads an image directory's manifest; JP_PROVIDER_IMAGE_MISSING (with the fix) when there is none. */
export function readImage(dir: string): { manifest: ImageManifest; rootfs: string } {
  const file = join(dir, 'manifest.json');
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as ImageManifest;
  } catch {
    throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', `no image at ${dir} (no readable manifest.json): build it with \`jitpool image build <recipe.yaml> --out ${dir}\``);
  }
  const rootfs = join(resolve(dir), manifest.rootfsDir);
  if (!existsSync(join(rootfs, 'usr/local/bin/jitpool-agent'))) {
    throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', `the image at ${dir} has no root with the guest agent (${manifest.rootfsDir}): rebuild it with \`jitpool image build\``);
  }
  return { manifest, rootfs };
}

async function build(recipe: ImageRecipe, options: BuildImageOptions): Promise<BuiltImage> {
  const { outDir, logger } = options;
  const log = logger.child({ component: 'images', image: recipe.name });
  const testInputs = recipe.kind === 'test' ? await resolveTestImageInputs() : null;
  const inputDigest = await digestInputs(recipe, testInputs ? [testInputs.nodeBinary, ...testInputs.libraries, testInputs.busybox, ...testInputs.sources.map((s) => join(PROJECT_ROOT, s))] : []);
  const current = currentManifest(outDir);
  if (current && current.inputDigest === inputDigest && existsSync(join(outDir, current.rootfsDir, 'usr/local/bin/jitpool-agent'))) {
    log.debug({ inputDigest }, 'image up to date');
    return { dir: outDir, rootfs: join(outDir, current.rootfsDir), manifest: current, isFresh: false };
  }
  await mkdir(outDir, { recursive: true, mode: 0o755 });
  const startedAt = performance.now();
  const scratch = join(outDir, `.build-${randomBytes(4).toString('hex')}`);
  const rootfsDir = `rootfs-${inputDigest.slice(0, 16)}`;
  await mkdir(join(scratch, 'rootfs'), { recursive: true, mode: 0o755 });
  try {
    let runnerVersion = 'fake';
    if (testInputs) await assembleTestRootfs(join(scratch, 'rootfs'), testInputs);
    else if (recipe.kind === 'debian') {
      runnerVersion = (await assembleDebianRootfs(join(scratch, 'rootfs'), recipe, { cacheDir: options.runnerCacheDir ?? join(outDir, '..', '.runner-cache'), logger })).version;
    }
    installAgent(join(scratch, 'rootfs'));
    const sizes = await measure(join(scratch, 'rootfs'));
    try {
      await rename(join(scratch, 'rootfs'), join(outDir, rootfsDir));
    } catch (err) {
      // Another build of the same inputs finished first: its root is the same image.
      if (!existsSync(join(outDir, rootfsDir, 'usr/local/bin/jitpool-agent'))) throw err;
    }
    const manifest: ImageManifest = {
      name: recipe.name, kind: recipe.kind, recipe, inputDigest, runnerVersion, createdAt: new Date().toISOString(),
      buildSeconds: Math.round((performance.now() - startedAt) / 100) / 10, rootfsDir, sizes, builderVersion: IMAGE_BUILDER_VERSION,
    };
    // The link first, then the manifest: a reader that sees the new manifest finds its root.
    const link = join(scratch, 'rootfs-link');
    await symlink(rootfsDir, link);
    await rename(link, join(outDir, 'rootfs'));
    await writeFileAtomic(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, 0o644);
    log.info({ inputDigest, buildSeconds: manifest.buildSeconds, rootfsBytes: sizes.rootfsBytes }, 'image built');
    await pruneOldRoots(outDir, rootfsDir, log);
    return { dir: outDir, rootfs: join(outDir, rootfsDir), manifest, isFresh: true };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function digestInputs(recipe: ImageRecipe, files: string[]): Promise<string> {
  const hash = createHash('sha256');
  // The runner's digest pins its bytes: where it is downloaded from (a mirror, a cache) does not change the image.
  const pinned = recipe.kind === 'debian' ? { ...recipe, name: undefined, runner: { version: recipe.runner.version, sha256: recipe.runner.sha256.replace(/^sha256:/, '').toLowerCase() } } : { ...recipe, name: undefined };
  hash.update(JSON.stringify({ builder: IMAGE_BUILDER_VERSION, recipe: pinned }));
  // The pipeline's own code is an input too: a change to what it writes rebuilds every image.
  const builder = ['build-image.ts', 'rootfs-common.ts', recipe.kind === 'test' ? 'test-rootfs.ts' : 'debian-rootfs.ts'].map((name) => fileURLToPath(new URL(`./${name}`, import.meta.url)));
  for (const file of [GUEST_AGENT_SCRIPT, ...builder, ...files]) {
    hash.update(`\0${file}\0`);
    await new Promise<void>((resolveRead, reject) => {
      createReadStream(file).on('data', (chunk) => hash.update(chunk)).on('end', resolveRead).on('error', reject);
    });
  }
  return hash.digest('hex');
}

function currentManifest(outDir: string): ImageManifest | null {
  try {
    return JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as ImageManifest;
  } catch {
    return null;
  }
}

/** Bytes of regular files (each inode once) and the number of entries under `dir`. */
async function measure(dir: string): Promise<{ rootfsBytes: number; files: number }> {
  const seen = new Set<number>();
  let rootfsBytes = 0;
  let files = 0;
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      files += 1;
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const stat = await lstat(full);
        if (!seen.has(stat.ino)) rootfsBytes += stat.size;
        seen.add(stat.ino);
      }
    }
  };
  await walk(dir);
  return { rootfsBytes, files };
}

/** Removes roots of earlier builds unless a mounted overlay still has one as its lower layer. */
async function pruneOldRoots(outDir: string, keep: string, log: Logger): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const name of readdirSync(outDir)) {
    if (!name.startsWith('rootfs-') || name === keep) continue;
    const path = join(outDir, name);
    if (mounts.includes(`lowerdir=${path}`)) {
      log.info({ rootfs: path }, 'an older root is still the lower layer of a machine; kept until the next build');
      continue;
    }
    await rm(path, { recursive: true, force: true });
  }
}
