import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import { buildTestImage, type BuiltImage } from '../images/index.ts';
import { cgroupExists, cgroupPids, machineCgroup } from './nspawn-cgroup.ts';
import { networkLeftovers } from './nspawn-network.ts';

export { hostAddressForMachines } from './nspawn-network.ts';
import { NSPAWN_BOOKKEEPING_DIR, type NspawnProviderOptions } from './nspawn-provider.ts';
import { argvOf } from './process-test-helpers.ts';

/** Helpers for tests of the nspawn provider (not part of the public surface). */

/** Where the tests keep the test image (rebuilt only when its inputs change). */
export const TEST_IMAGE_DIR = join(tmpdir(), 'jitpool-nspawn-test-image');

/** Why the nspawn tests cannot run here, or false. */
export function nspawnSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'the nspawn provider needs root';
  try {
    execFileSync('systemd-nspawn', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'systemd-nspawn is not installed (apt-get install systemd-container)';
  }
  if (!existsSync('/bin/busybox') && !existsSync('/usr/bin/busybox')) return 'the test image needs busybox (apt-get install busybox-static)';
  return false;
}

/** Builds (or finds current) the test image. */
export function ensureNspawnTestImage(): Promise<BuiltImage> {
  return buildTestImage(TEST_IMAGE_DIR, silentLogger());
}

/** Provider options for tests: small limits, a test subnet pool, quick kill. */
export function testNspawnOptions(controllerId: string, workRoot: string, image: string, network: 'host' | 'private'): NspawnProviderOptions {
  return {
    controllerId, image, workRoot, network,
    privateNetwork: { subnetPool: '10.217.0.0/16', prefixLength: 30, nat: true },
    cpus: 1, memoryMb: 512, pidsLimit: 512, env: {}, killGraceSeconds: 5, logger: silentLogger(),
  };
}

/** What is left on the host of machine `name`: directories, records, mounts, cgroups, network. */
export async function nspawnLeftovers(workRoot: string, name: string): Promise<string[]> {
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(join(workRoot, name)));
  return [
    ...[join(workRoot, name), join(workRoot, NSPAWN_BOOKKEEPING_DIR, name), `/run/systemd/nspawn/propagate/${name}`].filter((path) => existsSync(path)),
    ...mounted.map((line) => `mount ${line.split(' ')[4]}`),
    ...(cgroupExists(machineCgroup(name)) ? [`cgroup ${machineCgroup(name).dirs[0]}`] : []),
    ...(await networkLeftovers(name)),
  ];
}

/** The command lines of every process of machine `name` (nspawn and everything in its cgroup). */
export function machineArgv(name: string): string[] {
  return cgroupPids(machineCgroup(name)).flatMap(argvOf);
}
