import { resolve } from 'node:path';
import type { Command } from 'commander';
import pino from 'pino';
import { JitpoolError, createLogger } from '../core/index.ts';
import { loadConfig } from '../config/index.ts';
import { TEST_RECIPE, buildImage, loadRecipe, type BuiltImage, type ImageRecipe } from '../images/index.ts';
import { printJson, runCommand } from './github-options.ts';

/** Registers `jitpool image build` under the `image` command. */
export function registerImageBuildCommand(image: Command): void {
  image
    .command('build')
    .description('Build a base image for machine providers (nspawn, vm) from a recipe: root directory + manifest. An unchanged recipe is a no-op.')
    .argument('[recipe]', 'recipe YAML (kind: debian | test); see docs/providers/nspawn.md')
    .option('--out <dir>', 'the image directory (manifest.json, rootfs); with a recipe or --test')
    .option('--test', "build the test image (the simulator's fake runner, no debootstrap) instead of a recipe")
    .option('-c, --config <file>', "build the image of every nspawn pool with a `recipe` in this config, into the pool's `image`")
    .option('--pool <name>', 'with --config: only this pool')
    .option('--vm', "also make the vm provider's files from the root: disk.img (ext4), vmlinux and initrd.img (Debian's kernel, fetched with apt-get download, never installed)")
    .option('--json', 'print the manifest as JSON')
    .option('--log-level <level>', 'progress log level (stderr)', 'info')
    .addHelpText(
      'after',
      `
A debian recipe runs debootstrap from its mirror (default http://deb.debian.org/debian, bookworm),
adds curl, jq, tar, ca-certificates, git and the runner's libraries, a non-root user \`runner\`,
the pinned actions runner (SHA-256 verified, baked in) and the guest agent
(/usr/local/bin/jitpool-agent). Needs root and debootstrap (apt-get install debootstrap).

Example recipe (debian.yaml):
  name: debian
  kind: debian
  runner: { version: 2.330.0, sha256: <digest of actions-runner-linux-x64-2.330.0.tar.gz> }
  packages: [build-essential]

Examples:
  $ jitpool image build debian.yaml --out /var/lib/jitpool/images/debian
  $ jitpool image build -c /etc/jitpool/jitpool.yaml          # every nspawn pool's provider.recipe → provider.image
  $ jitpool image build debian.yaml --vm --out /var/lib/jitpool/images/debian   # also for vm pools
  $ jitpool image build --test --out /var/lib/jitpool/images/test`,
    )
    .action(async (recipeFile: string | undefined, opts: { out?: string; test?: boolean; config?: string; pool?: string; vm?: boolean; json?: boolean; logLevel: string }) => {
      await runCommand(opts.json, async () => {
        const jobs = imageJobs(recipeFile, opts);
        if (process.getuid?.() !== 0) throw new JitpoolError('JP_INPUT_INVALID', 'jitpool image build needs root (debootstrap, file ownership of the runner user)');
        const logger = createLogger({ level: opts.logLevel, pretty: process.stderr.isTTY === true, prettyFd: 2, destination: pino.destination({ fd: 2, sync: true }) });
        const results: BuiltImage[] = [];
        for (const job of jobs) results.push(await buildImage(job.recipe, { outDir: resolve(job.outDir), logger, vm: opts.vm === true }));
        if (opts.json) {
          const views = results.map((built) => ({ dir: built.dir, rootfs: built.rootfs, isFresh: built.isFresh, manifest: built.manifest }));
          printJson(views.length === 1 && !opts.config ? { ok: true, ...views[0] } : { ok: true, images: views });
        } else for (const built of results) printBuilt(built);
        return 0;
      });
    });
}

/** What to build: one recipe or the test image into --out, or every nspawn pool's recipe of a config. */
function imageJobs(recipeFile: string | undefined, opts: { out?: string; test?: boolean; config?: string; pool?: string }): Array<{ recipe: ImageRecipe; outDir: string }> {
  if ([recipeFile !== undefined, opts.test === true, opts.config !== undefined].filter(Boolean).length !== 1) {
    throw new JitpoolError('JP_INPUT_INVALID', 'give one of: a recipe file, --test, or --config');
  }
  if (!opts.config) {
    if (!opts.out) throw new JitpoolError('JP_INPUT_INVALID', '--out <dir> is required with a recipe or --test');
    return [{ recipe: recipeFile ? loadRecipe(recipeFile) : TEST_RECIPE, outDir: opts.out }];
  }
  const pools = loadConfig(opts.config).pools.filter((pool) => (opts.pool === undefined || pool.name === opts.pool) && pool.provider.kind === 'nspawn');
  const jobs = pools.flatMap((pool) => (pool.provider.kind === 'nspawn' && pool.provider.recipe ? [{ recipe: loadRecipe(pool.provider.recipe), outDir: pool.provider.image }] : []));
  if (jobs.length === 0) throw new JitpoolError('JP_INPUT_INVALID', `${opts.config}: no nspawn pool${opts.pool ? ` named ${opts.pool}` : ''} with a \`recipe\` to build`);
  // Pools sharing one image directory build it once.
  return [...new Map(jobs.map((job) => [resolve(job.outDir), job])).values()];
}

function printBuilt(built: BuiltImage): void {
  const { manifest } = built;
  process.stdout.write(`${built.isFresh ? 'built' : 'up to date'}  ${manifest.name} (${manifest.kind}) in ${built.dir}\n`);
  process.stdout.write(`digest     ${manifest.inputDigest}\nrunner     ${manifest.runnerVersion}\nrootfs     ${built.rootfs} (${(manifest.sizes.rootfsBytes / 1024 / 1024).toFixed(1)} MiB, ${manifest.sizes.files} entries)\nbuild      ${manifest.buildSeconds} s (${manifest.createdAt})\n`);
}
