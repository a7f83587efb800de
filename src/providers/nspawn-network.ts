import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { JitpoolError } from '../core/index.ts';
import { cidrRange, pickSubnet } from './docker-network.ts';

const execFileAsync = promisify(execFile);

/**
 * `network: private` for nspawn machines (seed 004's NixOS containers with `privateNetwork`):
 * jitpool makes a network namespace per machine, a veth pair into it and a subnet of its own
 * (host side `.1`, machine side `.2`, default route via the host), before nspawn starts; nspawn
 * joins it with `--network-namespace-path=`. So the machine needs no network tools, DHCP or
 * networkd inside, and the host side of its veth is where it reaches the host. With `nat` the
 * machine reaches the outside world (GitHub) through a MASQUERADE rule and two FORWARD rules of
 * its own, each tagged with a comment naming the runner, removed with it.
 */

/** Where per-runner subnets come from. */
export interface PrivateNetworkOptions {
  /** @default 10.216.0.0/16 */
  subnetPool: string;
  /** @default 30 */
  prefixLength: number;
  /** NAT to the outside world (needs net.ipv4.ip_forward=1). @default true */
  nat: boolean;
}

/** What was made for one machine. */
export interface PrivateNetwork {
  netns: string;
  hostInterface: string;
  subnet: string;
  hostAddress: string;
  machineAddress: string;
}

/** The interface name inside the machine. */
export const MACHINE_INTERFACE = 'host0';

/** Subnets handed out by creates of this process that have not put their address on a link yet. */
const reservedSubnets = new Set<string>();

/** Names derived from the runner name (interface names are limited to 15 characters). */
export function networkNames(runnerName: string): { netns: string; hostInterface: string; comment: string } {
  const hash = createHash('sha256').update(runnerName).digest('hex').slice(0, 10);
  return { netns: `jp-${hash}`, hostInterface: `vjp${hash}`, comment: `jitpool:${runnerName}` };
}

/** Checks the host can give machines a private network; JP_PROVIDER_UNAVAILABLE names the fix. */
export async function checkPrivateNetwork(options: PrivateNetworkOptions): Promise<void> {
  await run('ip', ['-V']).catch(() => {
    throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'nspawn provider: `network: private` needs the ip command: apt-get install iproute2');
  });
  if (!options.nat) return;
  await run('iptables', ['-w', '-t', 'nat', '-S', 'POSTROUTING']).catch((err: unknown) => {
    throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', `nspawn provider: \`network.nat\` needs iptables (apt-get install iptables): ${(err as Error).message}`);
  });
  if (readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== '1') {
    throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'nspawn provider: `network.nat` needs IP forwarding, which is off: sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d/), or set network.nat: false');
  }
}

/** Creates the namespace, the veth pair, the addresses and (with `nat`) the firewall rules. */
export async function createPrivateNetwork(runnerName: string, options: PrivateNetworkOptions): Promise<PrivateNetwork> {
  const { netns, hostInterface, comment } = networkNames(runnerName);
  const subnet = pickSubnet(options.subnetPool, options.prefixLength, [...(await hostSubnets()), ...reservedSubnets]);
  if (!subnet) throw new JitpoolError('JP_PROVIDER_CREATE', `nspawn provider: no free /${options.prefixLength} subnet left in ${options.subnetPool} (network.subnetPool)`, { retryable: true });
  reservedSubnets.add(subnet);
  const range = cidrRange(subnet)!;
  const hostAddress = formatIpv4(range.first + 1);
  const machineAddress = formatIpv4(range.first + 2);
  const bits = String(options.prefixLength);
  try {
    await ip(['netns', 'add', netns]);
    await ip(['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', MACHINE_INTERFACE, 'netns', netns]);
    await ip(['addr', 'add', `${hostAddress}/${bits}`, 'dev', hostInterface]);
    await ip(['link', 'set', hostInterface, 'up']);
    await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
    await ip(['-n', netns, 'addr', 'add', `${machineAddress}/${bits}`, 'dev', MACHINE_INTERFACE]);
    await ip(['-n', netns, 'link', 'set', MACHINE_INTERFACE, 'up']);
    await ip(['-n', netns, 'route', 'add', 'default', 'via', hostAddress]);
    if (options.nat) {
      const tag = ['-m', 'comment', '--comment', comment];
      await iptables(['-t', 'nat', '-A', 'POSTROUTING', '-s', subnet, '!', '-o', hostInterface, '-j', 'MASQUERADE', ...tag]);
      // Inserted first: a host with Docker drops forwarded traffic by default (FORWARD policy DROP).
      await iptables(['-I', 'FORWARD', '-i', hostInterface, '-j', 'ACCEPT', ...tag]);
      await iptables(['-I', 'FORWARD', '-o', hostInterface, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT', ...tag]);
    }
  } catch (err) {
    await removePrivateNetwork(runnerName).catch(() => undefined);
    throw err;
  } finally {
    reservedSubnets.delete(subnet);
  }
  return { netns, hostInterface, subnet, hostAddress, machineAddress };
}

/** Removes everything {@link createPrivateNetwork} made for `runnerName` (idempotent). */
export async function removePrivateNetwork(runnerName: string): Promise<void> {
  const { netns, hostInterface, comment } = networkNames(runnerName);
  // Deleting the namespace destroys the veth pair with it; the host end is removed too in case the namespace is gone already.
  if (existsSync(`/run/netns/${netns}`)) await ip(['netns', 'del', netns]).catch(ignoreMissing);
  if (existsSync(`/sys/class/net/${hostInterface}`)) await ip(['link', 'del', hostInterface]).catch(ignoreMissing);
  for (const rule of await taggedRules(comment)) await iptables(rule);
}

/** What is left of a machine's network (tests, doctor): [] when nothing. */
export async function networkLeftovers(runnerName: string): Promise<string[]> {
  const { netns, hostInterface, comment } = networkNames(runnerName);
  return [
    ...(existsSync(`/run/netns/${netns}`) ? [`netns ${netns}`] : []),
    ...(existsSync(`/sys/class/net/${hostInterface}`) ? [`link ${hostInterface}`] : []),
    ...(await taggedRules(comment)).map((rule) => `iptables ${rule.join(' ')}`),
  ];
}

/** Delete commands for every rule carrying `comment` (from `iptables -S`), in FORWARD and nat POSTROUTING. */
async function taggedRules(comment: string): Promise<string[][]> {
  const out: string[][] = [];
  for (const [table, chain] of [['filter', 'FORWARD'], ['nat', 'POSTROUTING']] as const) {
    let listing: string;
    try {
      listing = await run('iptables', ['-w', '-t', table, '-S', chain]);
    } catch {
      continue; // No iptables: nothing of ours can be there.
    }
    for (const line of listing.split('\n')) {
      const words = line.trim().split(/\s+/).map((word) => word.replace(/^"(.*)"$/, '$1'));
      if (words[0] !== '-A' || !words.includes(comment)) continue;
      out.push(['-t', table, '-D', ...words.slice(1)]);
    }
  }
  return out;
}

/** Subnets on the host's interfaces (another machine's, Docker's, the LAN's). */
async function hostSubnets(): Promise<string[]> {
  const links = JSON.parse(await run('ip', ['-j', '-4', 'addr', 'show'])) as Array<{ addr_info?: Array<{ local?: string; prefixlen?: number }> }>;
  return links.flatMap((link) => (link.addr_info ?? []).filter((a) => a.local && a.prefixlen !== undefined).map((a) => `${a.local}/${a.prefixlen}`));
}

function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function ignoreMissing(err: unknown): void {
  if (!/Cannot find|No such|does not exist|not found/i.test((err as Error).message)) throw err;
}

async function ip(args: string[]): Promise<void> {
  await run('ip', args).catch((err: unknown) => {
    throw new JitpoolError('JP_PROVIDER_CREATE', `nspawn provider: ip ${args.join(' ')} failed: ${(err as Error).message}`, { cause: err });
  });
}

async function iptables(args: string[]): Promise<void> {
  await run('iptables', ['-w', ...args]).catch((err: unknown) => {
    throw new JitpoolError('JP_PROVIDER_CREATE', `nspawn provider: iptables ${args.slice(0, 4).join(' ')} … failed: ${(err as Error).message}`, { cause: err });
  });
}

async function run(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new Error(stderr || (err as Error).message);
  }
}

/**
 * An address of this host that a machine on a private network reaches through its default route
 * (every non-loopback address of the host is local to it; loopback is the machine's own): the
 * Docker bridge's gateway when there is one, else the first global IPv4 address. Where the demo
 * and the tests let the simulator listen.
 */
export function hostAddressForMachines(): string {
  const links = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string; addr_info?: Array<{ local?: string; scope?: string }> }>;
  const candidates = links
    .filter((link) => !link.ifname.startsWith('vjp') && link.ifname !== 'lo')
    .flatMap((link) => (link.addr_info ?? []).filter((a) => a.scope === 'global' && a.local).map((a) => ({ ifname: link.ifname, address: a.local! })));
  const chosen = candidates.find((c) => c.ifname === 'docker0') ?? candidates[0];
  if (!chosen) throw new JitpoolError('JP_PROVIDER_UNAVAILABLE', 'this host has no global IPv4 address at which machines on private networks could reach it');
  return chosen.address;
}
