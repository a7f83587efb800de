import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `jitpool demo --provider external`: the pools run on the shipped example script
 * (examples/external/local-runner.sh) through garm's external-provider protocol; each instance is
 * a local process that fetches its registration from the pool's metadata listener and runs the
 * fake runner.
 */

/** The example external provider script. */
export const EXAMPLE_EXTERNAL_SCRIPT = fileURLToPath(new URL('../../examples/external/local-runner.sh', import.meta.url));

/** The example script's own config file inside the demo's state dir. */
export function externalDemoConfigFile(stateDir: string): string {
  return join(stateDir, 'external-provider.json');
}

/** The pools' provider block for the demo. */
export function externalDemoProvider(stateDir: string) {
  return {
    kind: 'external' as const,
    command: EXAMPLE_EXTERNAL_SCRIPT,
    configFile: externalDemoConfigFile(stateDir),
    timeouts: { create: 60, delete: 60, query: 30 },
    killGraceSeconds: 2,
  };
}

/** Writes the example script's config: instances under the state dir, running `runnerCommand`. */
export function writeExternalDemoConfig(stateDir: string, runnerCommand: string[]): void {
  const instances = join(stateDir, 'external-instances');
  mkdirSync(instances, { recursive: true, mode: 0o700 });
  writeFileSync(externalDemoConfigFile(stateDir), JSON.stringify({ stateDir: instances, runnerCommand }), { mode: 0o600 });
}
