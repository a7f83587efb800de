import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { JitpoolError } from '../core/index.ts';
import { DEFAULT_RUNNER_VERSION, DEFAULT_URL_TEMPLATE } from '../runner/index.ts';

/** The Debian mirror debootstrap reads when a recipe names none. */
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** The Debian release a recipe builds when it names none. */
export const DEFAULT_DEBIAN_SUITE = 'bookworm';

/**
 * What seed 001 lists for the VM image, plus the shared libraries the actions runner (.NET) loads
 * on bookworm (its `installdependencies.sh` list) and `passwd` for the runner user.
 */
export const DEBIAN_BASE_PACKAGES = ['curl', 'jq', 'tar', 'ca-certificates', 'git', 'passwd', 'libicu72', 'libkrb5-3', 'zlib1g', 'libssl3', 'liblttng-ust1'] as const;

const packageName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, { message: 'a Debian package name' });

const runnerSpec = z
  .object({
    /** Runner version baked into the image. @default DEFAULT_RUNNER_VERSION */
    version: z.string().regex(/^\d+\.\d+\.\d+$/, { message: 'expected MAJOR.MINOR.PATCH' }).default(DEFAULT_RUNNER_VERSION),
    /** SHA-256 of the runner archive (from the release notes); a mismatch fails the build. */
    sha256: z.string().regex(/^(sha256:)?[0-9a-fA-F]{64}$/, { message: 'expected a SHA-256 digest (64 hex characters)' }),
    /** Download URL with `{version}`, `{os}`, `{arch}`; `file://` for an air-gapped host. @default the GitHub release asset */
    urlTemplate: z.string().default(DEFAULT_URL_TEMPLATE),
    /** Where the verified archive is cached. @default <image dir>/../.runner-cache */
    cacheDir: z.string().optional(),
  })
  .strict();

const debianRecipe = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'lowercase letters, digits and -' }),
    kind: z.literal('debian'),
    /** Debian mirror (seed 001: the configured mirror). @default http://deb.debian.org/debian */
    mirror: z.string().regex(/^(https?|file):\/\/\S+$/, { message: 'an http(s) or file URL' }).default(DEFAULT_DEBIAN_MIRROR),
    /** Debian release. @default bookworm */
    suite: z.string().regex(/^[a-z]+$/).default(DEFAULT_DEBIAN_SUITE),
    /** Packages on top of {@link DEBIAN_BASE_PACKAGES}. @default [] @example ['build-essential', 'python3'] */
    packages: z.array(packageName).default([]),
    /** The pinned, verified actions runner baked into /home/runner/actions-runner. */
    runner: runnerSpec,
  })
  .strict();

const testRecipe = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'lowercase letters, digits and -' }),
    /** The simulator's fake runner on this project's Node binary, with busybox as the shell: no debootstrap (tests, demo). */
    kind: z.literal('test'),
  })
  .strict();

/** A base-image recipe: `debian` (debootstrap, the real runner) or `test` (the fake runner). */
export const recipeSchema = z.discriminatedUnion('kind', [debianRecipe, testRecipe]);

/** A validated recipe. */
export type ImageRecipe = z.infer<typeof recipeSchema>;

/** The recipe of the test image (`jitpool image build --test`). */
export const TEST_RECIPE: ImageRecipe = Object.freeze({ name: 'jitpool-test', kind: 'test' });

/** Validates a recipe object; JP_CONFIG_INVALID names the field. */
export function parseRecipe(value: unknown, source = 'recipe'): ImageRecipe {
  const result = recipeSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
  throw new JitpoolError('JP_CONFIG_INVALID', `${source}: ${problems}`);
}

/** Reads and validates a YAML recipe file. */
export function loadRecipe(file: string): ImageRecipe {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new JitpoolError('JP_CONFIG_NOT_FOUND', `image recipe ${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new JitpoolError('JP_CONFIG_INVALID', `image recipe ${file} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  return parseRecipe(doc, file);
}
