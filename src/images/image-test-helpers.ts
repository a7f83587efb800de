import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { sourceClosure } from './source-closure.ts';
import { PROJECT_ROOT } from './test-rootfs.ts';

/** Helpers for tests of the image pipeline (not part of the public surface). */

/**
 * An `actions-runner-linux-<arch>-<version>.tar.gz` stand-in for hosts that cannot reach GitHub:
 * `bin/Runner.Listener` runs the simulator's fake runner on a Node binary shipped in the archive
 * (the Debian image has the C libraries it needs). Served to a recipe with its
 * real SHA-256 over HTTP from loopback (the runner download uses fetch, which has no file: scheme),
 * so the pipeline's download, verification and bake-in run for real.
 */
export async function buildFakeRunnerPackage(version = '2.330.0', arch = 'x64'): Promise<{ urlTemplate: string; sha256: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'jp-image-runner-'));
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'bin'), { recursive: true });
  copyFileSync(realpathSync(process.execPath), join(tree, 'bin/node'));
  chmodSync(join(tree, 'bin/node'), 0o755);
  for (const source of sourceClosure(join(PROJECT_ROOT, 'src/sim/fake-runner.ts'), PROJECT_ROOT)) {
    mkdirSync(join(tree, 'app', dirname(source)), { recursive: true });
    copyFileSync(join(PROJECT_ROOT, source), join(tree, 'app', source));
  }
  writeFileSync(join(tree, 'app/package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(join(tree, 'bin/Runner.Listener'), '#!/bin/sh\nroot="$(dirname "$0")/.."\nNODE_NO_WARNINGS=1 exec "$root/bin/node" "$root/app/src/sim/fake-runner.ts" "$@"\n', { mode: 0o755 });
  writeFileSync(join(tree, 'run.sh'), '#!/bin/sh\nexec "$(dirname "$0")/bin/Runner.Listener" run "$@"\n', { mode: 0o755 });
  const archive = join(dir, `actions-runner-linux-${arch}-${version}.tar.gz`);
  execFileSync('tar', ['-czf', archive, '-C', tree, '.']);
  const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');
  const server = createServer((request, response) => {
    if (request.url !== `/${basename(archive)}`) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/gzip' }).end(readFileSync(archive));
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    urlTemplate: `http://127.0.0.1:${port}/actions-runner-{os}-{arch}-{version}.tar.gz`,
    sha256,
    cleanup: async () => {
      await new Promise((resolveClose) => server.close(resolveClose));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
