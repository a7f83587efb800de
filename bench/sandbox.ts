import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, round, silentLogger } from '../src/core/index.ts';
import { ProcessProvider, type ComputeInfo, type SandboxKind } from '../src/providers/index.ts';

/** Options of {@link benchSandbox}. */
export interface SandboxBenchOptions {
  /** Launches per command and setting; the median is reported. @default 15 */
  runs?: number;
}

/** Medians of one command, sandboxed and not. */
export interface SandboxLaunchCost {
  sandboxedMs: number;
  unsandboxedMs: number;
  /** sandboxed / unsandboxed. */
  ratio: number;
  /** sandboxed − unsandboxed: what the sandbox adds to every launch. */
  addedMs: number;
}

/**
 * The launch-time cost of the process sandbox: `create()` until the runner's exit is pushed, for
 * a command that does nothing (`/bin/true`: namespaces, mounts, init and teardown alone) and for a
 * Node process (what the fake runner and most runner commands start with), each with the sandbox
 * (`bwrap`) and without (`none`), interleaved so both see the same machine load.
 */
export async function benchSandbox(options: SandboxBenchOptions = {}): Promise<{ runs: number; trueCommand: SandboxLaunchCost; node: SandboxLaunchCost }> {
  const runs = options.runs ?? 15;
  const workRoot = mkdtempSync(join(tmpdir(), 'jp-bench-sandbox-'));
  try {
    const measure = async (command: string[]): Promise<SandboxLaunchCost> => {
      const samples: Record<SandboxKind, number[]> = { bwrap: [], none: [] };
      const providers = { bwrap: make(workRoot, command, 'bwrap'), none: make(workRoot, command, 'none') };
      await providers.bwrap.preflight();
      for (let run = 0; run < runs; run++) {
        for (const kind of ['bwrap', 'none'] as const) samples[kind].push(await launchToExit(providers[kind], `bench-${kind}`, `jp-bench-${kind}-${run}`));
      }
      const sandboxedMs = round(median(samples.bwrap), 1);
      const unsandboxedMs = round(median(samples.none), 1);
      return { sandboxedMs, unsandboxedMs, ratio: round(sandboxedMs / Math.max(unsandboxedMs, 0.001), 2), addedMs: round(sandboxedMs - unsandboxedMs, 1) };
    };
    return { runs, trueCommand: await measure(['/bin/true']), node: await measure([process.execPath, '-e', '']) };
  } finally {
    rmSync(workRoot, { recursive: true, force: true });
  }
}

function make(workRoot: string, command: string[], kind: SandboxKind): ProcessProvider {
  return new ProcessProvider({ controllerId: `bench-${kind}`, command, workRoot, killGraceSeconds: 2, sandbox: { kind }, logger: silentLogger() });
}

async function launchToExit(provider: ProcessProvider, controllerId: string, name: string): Promise<number> {
  const started = performance.now();
  const exited = new Promise<void>((resolve) => {
    const off = provider.onChange((info: ComputeInfo) => {
      if (info.computeId === name && info.state === 'exited') {
        off();
        resolve();
      }
    });
  });
  // The provider unrefs its runners (they outlive the controller): keep this process up meanwhile.
  const keepAlive = setInterval(() => {}, 1000);
  await provider.create({ runnerId: name, runnerName: name, pool: 'bench', controllerId, labels: [], jitConfig: 'x', context: {} });
  await exited;
  clearInterval(keepAlive);
  const elapsedMs = performance.now() - started;
  await provider.delete(name);
  return elapsedMs;
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchSandbox()));
}
