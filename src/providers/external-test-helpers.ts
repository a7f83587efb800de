import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../core/index.ts';
import { FAKE_RUNNER_SCRIPT } from '../sim/index.ts';
import { ExternalProvider, type ExternalProviderOptions } from './external-provider.ts';

/** Helpers for tests of the external provider (not part of the public surface). */

/** The shipped example script. */
export const EXAMPLE_SCRIPT = resolve(fileURLToPath(new URL('../../examples/external/local-runner.sh', import.meta.url)));

/** A scratch area: the example script's state dir and config, and a records root. */
export interface ExternalScratch {
  root: string;
  stateDir: string;
  configFile: string;
  remove(): void;
}

/** Makes a scratch area whose example-script config runs the simulator's fake runner. */
export function makeScratch(): ExternalScratch {
  const root = mkdtempSync(join(tmpdir(), 'jitpool-external-'));
  const stateDir = join(root, 'instances');
  const configFile = join(root, 'provider.json');
  writeFileSync(configFile, JSON.stringify({ stateDir, runnerCommand: [process.execPath, FAKE_RUNNER_SCRIPT, 'run'] }), { mode: 0o600 });
  return { root, stateDir, configFile, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** An external provider over `executable` (the example script by default) with short deadlines. */
export function makeExternalProvider(scratch: ExternalScratch, controllerId: string, overrides: Partial<ExternalProviderOptions> = {}): ExternalProvider {
  return new ExternalProvider({
    controllerId,
    pool: 'contract',
    executable: EXAMPLE_SCRIPT,
    configFile: scratch.configFile,
    timeouts: { createMs: 60_000, deleteMs: 60_000, queryMs: 30_000 },
    killGraceMs: 2000,
    retries: 1,
    recordDir: join(scratch.root, 'records', controllerId),
    metadata: { host: '127.0.0.1', port: 0, tokenTtlMs: 600_000 },
    logger: silentLogger(),
    ...overrides,
  });
}

/** Writes an executable script into the scratch area and returns its path. */
export function writeScript(scratch: ExternalScratch, name: string, body: string): string {
  const path = join(scratch.root, name);
  writeFileSync(path, `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(path, 0o700);
  return path;
}

/** The pid the example script recorded for an instance (null when none). */
export function instancePid(scratch: ExternalScratch, name: string): number | null {
  const file = join(scratch.stateDir, name, 'pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split(' ')[0]) : null;
}
