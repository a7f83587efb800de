import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { JitpoolError } from '../core/index.ts';

/**
 * The fake runner as a Docker image, for the Docker provider's tests, `jitpool demo --provider
 * docker` and the benchmarks. Built locally by scripts/build-test-image.sh (no registry needed).
 */

/** The test image's tag. */
export const FAKE_RUNNER_IMAGE = 'jitpool/fake-runner:test';

/** The script that builds {@link FAKE_RUNNER_IMAGE} (idempotent). */
export const BUILD_TEST_IMAGE_SCRIPT = fileURLToPath(new URL('../../scripts/build-test-image.sh', import.meta.url));

/** What {@link probeDocker} found. */
export type DockerProbe =
  | { isReachable: true; docker: Docker; bridgeGateway: string; serverVersion: string }
  | { isReachable: false; reason: string };

/**
 * Whether a Docker engine answers (at DOCKER_HOST or the default socket), and the gateway address
 * of its default bridge: runners on their own bridge networks reach the host there, so a
 * simulator listening on it is reachable from every container (and from nowhere outside the host).
 */
export async function probeDocker(env: Readonly<Record<string, string | undefined>> = process.env): Promise<DockerProbe> {
  const host = env.DOCKER_HOST;
  const docker = new Docker(host && !host.startsWith('unix://') ? { host: new URL(host).hostname, port: new URL(host).port || 2375, timeout: 10_000 } : { socketPath: host ? host.slice(7) : '/var/run/docker.sock', timeout: 10_000 });
  let serverVersion: string;
  try {
    serverVersion = (await docker.version()).Version;
  } catch (err) {
    return { isReachable: false, reason: `no Docker engine reachable at ${host ?? '/var/run/docker.sock'} (${err instanceof Error ? err.message : String(err)})` };
  }
  const bridge = (await docker.getNetwork('bridge').inspect()) as Docker.NetworkInspectInfo;
  const ipv4 = bridge.IPAM?.Config?.find((c) => c.Subnet && !c.Subnet.includes(':'));
  // Older engines leave Gateway out of the default bridge's IPAM config: it is then the subnet's first address.
  const bridgeGateway = ipv4?.Gateway || (ipv4?.Subnet ? firstHost(ipv4.Subnet) : undefined);
  if (!bridgeGateway) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'the Docker engine has no default bridge gateway (dockerd --bridge=none?); runners could not reach the simulator');
  return { isReachable: true, docker, bridgeGateway, serverVersion };
}

/** Builds {@link FAKE_RUNNER_IMAGE} unless it is up to date; resolves with its tag. */
export async function ensureFakeRunnerImage(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('bash', [BUILD_TEST_IMAGE_SCRIPT, FAKE_RUNNER_IMAGE], { env, timeout: 300_000, maxBuffer: 1024 * 1024 });
    return stdout.trim() || FAKE_RUNNER_IMAGE;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new JitpoolError('JP_PROVIDER_IMAGE_MISSING', `could not build ${FAKE_RUNNER_IMAGE} with ${BUILD_TEST_IMAGE_SCRIPT}: ${stderr.trim() || (err instanceof Error ? err.message : String(err))}`, { cause: err });
  }
}

function firstHost(cidr: string): string {
  const [address = '', bits = '32'] = cidr.split('/');
  const value = address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - Number(bits));
  const first = Math.floor(value / size) * size + 1;
  return [24, 16, 8, 0].map((shift) => Math.floor(first / 2 ** shift) % 256).join('.');
}
