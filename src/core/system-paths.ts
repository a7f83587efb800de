import { resolve } from 'node:path';

/**
 * Directories of the operating system that jitpool must never take as its own (a state
 * directory, a work root): deleting inside them, or changing their mode, breaks the host.
 */
const SYSTEM_DIRECTORIES: ReadonlySet<string> = new Set([
  '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/media', '/mnt', '/opt', '/proc',
  '/root', '/run', '/sbin', '/snap', '/srv', '/sys', '/tmp', '/usr', '/usr/bin', '/usr/lib', '/usr/local', '/usr/local/bin',
  '/usr/sbin', '/usr/share', '/var', '/var/lib', '/var/log', '/var/tmp', '/var/cache', '/var/run', '/nix', '/nix/store',
]);

/** True for `/` and the system directories jitpool must never use as its own (see above). */
export function isSystemDirectory(path: string): boolean {
  return SYSTEM_DIRECTORIES.has(resolve(path));
}

/** True when `inner` is `outer` or lies below it (both resolved). */
export function isSameOrInside(inner: string, outer: string): boolean {
  const a = resolve(inner);
  const b = resolve(outer);
  return a === b || a.startsWith(b.endsWith('/') ? b : `${b}/`);
}
