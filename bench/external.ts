import { writeFileSync } from 'node:fs';
import { median, round, shortId } from '../src/core/index.ts';
import { GARM_COMMANDS } from '../src/providers/index.ts';
import { runProviderCommand } from '../src/providers/external-command.ts';
import { EXAMPLE_SCRIPT, makeExternalProvider, makeScratch } from '../src/providers/external-test-helpers.ts';
import type { ComputeInfo } from '../src/providers/index.ts';

/** Medians of the external provider's costs with the shipped example script (examples/external/local-runner.sh). */
export interface ExternalBenchResult {
  runs: number;
  /** One protocol call (GetVersion): spawn, environment, exit — what every operation pays at least. */
  commandMs: number;
  /** `create()`: the record, the token, CreateInstance answering with a validated instance. */
  createMs: number;
  /** `create()` called → the instance's `idle` callback pushed (it fetched its registration over HTTP). */
  bootToOnlineMs: number;
  /** `delete()`: DeleteInstance stopping the instance's process group and removing its state. */
  deleteMs: number;
}

/**
 * Launches `runs` instances of the example script one after the other, each running `sleep`
 * instead of a runner (no GitHub involved), and reports medians.
 */
export async function benchExternal(options: { runs?: number } = {}): Promise<ExternalBenchResult> {
  const runs = options.runs ?? 15;
  const scratch = makeScratch();
  writeFileSync(scratch.configFile, JSON.stringify({ stateDir: scratch.stateDir, runnerCommand: ['sleep', '300'] }));
  const provider = makeExternalProvider(scratch, 'bench');
  const jitConfig = Buffer.from(JSON.stringify(Object.fromEntries(['.runner', '.credentials', '.credentials_rsaparams'].map((f) => [f, Buffer.from('{}').toString('base64')])))).toString('base64');
  const samples = { command: [] as number[], create: [] as number[], online: [] as number[], delete: [] as number[] };
  try {
    await provider.preflight();
    for (let run = 0; run < runs; run++) {
      const command = await runProviderCommand({
        executable: EXAMPLE_SCRIPT, command: GARM_COMMANDS.version, timeoutMs: 30_000, killGraceMs: 1000,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GARM_COMMAND: GARM_COMMANDS.version, GARM_CONTROLLER_ID: 'bench', GARM_PROVIDER_CONFIG_FILE: scratch.configFile },
      });
      samples.command.push(command.durationMs);
      const name = `jp-bench-${shortId()}`;
      const online = new Promise<number>((resolve) => {
        const off = provider.onChange((info: ComputeInfo) => {
          if (info.computeId === name && info.isOnline) {
            off();
            resolve(performance.now());
          }
        });
      });
      const startedMs = performance.now();
      await provider.create({ runnerId: name.slice(-12), runnerName: name, pool: 'contract', controllerId: 'bench', labels: ['self-hosted'], jitConfig, context: {} });
      samples.create.push(performance.now() - startedMs);
      samples.online.push((await online) - startedMs);
      const deleteStartedMs = performance.now();
      await provider.delete(name);
      samples.delete.push(performance.now() - deleteStartedMs);
    }
  } finally {
    await provider.close();
    scratch.remove();
  }
  const m = (values: number[]) => round(median(values), 1);
  return { runs, commandMs: m(samples.command), createMs: m(samples.create), bootToOnlineMs: m(samples.online), deleteMs: m(samples.delete) };
}

if (import.meta.main) {
  const runsArg = process.argv.indexOf('--runs');
  const result = await benchExternal({ runs: runsArg > 0 ? Number(process.argv[runsArg + 1]) : undefined });
  console.log(JSON.stringify(result));
}
