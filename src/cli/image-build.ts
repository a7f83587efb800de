import { resolve } from 'node:path';
import type { Command } from 'commander';
import pino from 'pino';
import { JitpoolError, createLogger } from '../core/index.ts';
import { TEST_RECIPE, buildImage, loadRecipe } from '../images/index.ts';
import { printJson, runCommand } from './github-options.ts';

/** Registers `jitpool image build` under the `image` command. */
export function registerImageBuildCommand(image: Command): void {
  image
    .command('build')
    .description('Build a base image for machine providers (nspawn, vm) from a recipe: root directory + manifest. An unchanged recipe is a no-op.')
    .argument('[recipe]', 'recipe YAML (kind: debian | test); see docs/providers/nspawn.md')
    .requiredOption('--out <dir>', 'the image directory (manifest.json, rootfs)')
    .option('--test', "build the test image (the simulator's fake runner, no debootstrap) instead of a recipe")
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
  $ jitpool image build --test --out /var/lib/jitpool/images/test`,
    )
    .action(async (recipeFile: string | undefined, opts: { out: string; test?: boolean; json?: boolean; logLevel: string }) => {
      await runCommand(opts.json, async () => {
        if (Boolean(recipeFile) === Boolean(opts.test)) throw new JitpoolError('JP_INPUT_INVALID', 'give a recipe file or --test (one of them)');
        if (process.getuid?.() !== 0) throw new JitpoolError('JP_INPUT_INVALID', 'jitpool image build needs root (debootstrap, file ownership of the runner user)');
        const recipe = recipeFile ? loadRecipe(recipeFile) : TEST_RECIPE;
        const logger = createLogger({ level: opts.logLevel, pretty: process.stderr.isTTY === true, prettyFd: 2, destination: pino.destination({ fd: 2, sync: true }) });
        const built = await buildImage(recipe, { outDir: resolve(opts.out), logger });
        if (opts.json) printJson({ ok: true, dir: built.dir, rootfs: built.rootfs, isFresh: built.isFresh, manifest: built.manifest });
        else {
          const { manifest } = built;
          process.stdout.write(`${built.isFresh ? 'built' : 'up to date'}  ${manifest.name} (${manifest.kind}) in ${built.dir}\n`);
          process.stdout.write(`digest     ${manifest.inputDigest}\nrunner     ${manifest.runnerVersion}\nrootfs     ${built.rootfs} (${(manifest.sizes.rootfsBytes / 1024 / 1024).toFixed(1)} MiB, ${manifest.sizes.files} entries)\nbuild      ${manifest.buildSeconds} s (${manifest.createdAt})\n`);
        }
        return 0;
      });
    });
}
