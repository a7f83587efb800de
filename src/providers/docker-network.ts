import { JitpoolError } from '../core/index.ts';

/**
 * Per-runner subnets (seed 004: each container gets its own subnet). jitpool picks the subnet
 * itself from the configured pool instead of leaving it to Docker's default address pools, which
 * hold only a few dozen networks and would run out under load.
 */

/** An IPv4 CIDR as a numeric range. */
interface Range {
  first: number;
  last: number;
}

function parseIpv4(address: string): number | null {
  const octets = address.split('.');
  if (octets.length !== 4) return null;
  let value = 0;
  for (const octet of octets) {
    if (!/^\d{1,3}$/.test(octet) || Number(octet) > 255) return null;
    value = value * 256 + Number(octet);
  }
  return value;
}

function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** The range of an IPv4 CIDR, or null when it is not one (IPv6 subnets are ignored). */
export function cidrRange(cidr: string): Range | null {
  const [address, bitsText] = cidr.split('/');
  const base = parseIpv4(address ?? '');
  const bits = Number(bitsText);
  if (base === null || !Number.isInteger(bits) || bits < 0 || bits > 32) return null;
  const size = 2 ** (32 - bits);
  const first = Math.floor(base / size) * size;
  return { first, last: first + size - 1 };
}

/** True when two CIDRs share any address. */
export function subnetsOverlap(a: string, b: string): boolean {
  const ra = cidrRange(a);
  const rb = cidrRange(b);
  return ra !== null && rb !== null && ra.first <= rb.last && rb.first <= ra.last;
}

/**
 * The first `/prefixLength` subnet of `pool` that overlaps none of `used`, or null when the pool is
 * exhausted. Pure; the caller lists the engine's networks and adds subnets it has reserved.
 */
export function pickSubnet(pool: string, prefixLength: number, used: Iterable<string>): string | null {
  const range = cidrRange(pool);
  if (!range) throw new JitpoolError('JP_INPUT_INVALID', `network.subnetPool ${JSON.stringify(pool)} is not an IPv4 CIDR`);
  const poolBits = Number(pool.split('/')[1]);
  if (prefixLength < poolBits || prefixLength > 30) throw new JitpoolError('JP_INPUT_INVALID', `network.prefixLength /${prefixLength} does not fit in ${pool}`);
  const taken = [...used].map(cidrRange).filter((r): r is Range => r !== null).sort((a, b) => a.first - b.first);
  const size = 2 ** (32 - prefixLength);
  for (let first = range.first; first + size - 1 <= range.last; first += size) {
    const last = first + size - 1;
    const clash = taken.find((r) => r.first <= last && first <= r.last);
    if (!clash) return `${formatIpv4(first)}/${prefixLength}`;
    // Jump past the clashing range, aligned to the subnet size.
    first = Math.max(first, Math.floor(clash.last / size) * size);
  }
  return null;
}
