import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FAKE_RUNNER_SCRIPT } from '../sim/index.ts';

/** Helpers for tests of the runner package (not part of the public surface). */

const execFileAsync = promisify(execFile);

/** Single-quotes a value for a generated POSIX shell script. */
function sh(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Options of {@link buildRunnerArchive}. */
export interface FakeArchiveOptions {
  version?: string;
  /** `fake-runner`: `bin/Runner.Listener` runs the simulator's fake runner; `record`: it records its argv/env and exits with `exitCode`. */
  listener?: 'fake-runner' | 'record';
  /** Overrides `listener`: `bin/Runner.Listener` execs this command line (e.g. a hostile runner). */
  listenerCommand?: readonly string[];
  exitCode?: number;
  /** Extra files (path → size in bytes) to make the package realistic in size. */
  filler?: { files: number; bytesEach: number };
}

/**
 * Builds an `actions-runner-linux-*.tar.gz` look-alike: `bin/Runner.Listener`, `config.sh`,
 * `run.sh`, `bin/*.dll` filler, `externals/`. `config.sh` records its argv and whether the token
 * arrived through `ACTIONS_RUNNER_INPUT_TOKEN`, then writes `.runner` like the real one.
 */
export async function buildRunnerArchive(options: FakeArchiveOptions = {}): Promise<{ archive: string; sha256: string; bytes: Buffer; dir: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'jp-fake-pkg-'));
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'bin'), { recursive: true });
  mkdirSync(join(tree, 'externals', 'node20', 'bin'), { recursive: true });
  const listener = options.listenerCommand
    ? `#!/bin/sh\nexec ${options.listenerCommand.map(sh).join(' ')} "$@"\n`
    : options.listener === 'record'
      ? `#!/bin/sh\n{ echo "argv: $*"; echo "jit: \${ACTIONS_RUNNER_INPUT_JITCONFIG:+set}"; echo "deprecated-exit: $ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE"; } >> listener-calls.log\nexit ${options.exitCode ?? 0}\n`
      : `#!/bin/sh\nexec ${sh(process.execPath)} ${sh(FAKE_RUNNER_SCRIPT)} "$@"\n`;
  writeFileSync(join(tree, 'bin', 'Runner.Listener'), listener, { mode: 0o755 });
  writeFileSync(
    join(tree, 'config.sh'),
    `#!/bin/sh
# Fake config.sh: records the call (never the token's value) and writes .runner like the real one.
{ echo "argv: $*"; echo "token-env: \${ACTIONS_RUNNER_INPUT_TOKEN:+set}"; } >> config-calls.log
case " $* " in *" --token "*) echo "token on the command line" >&2; exit 9;; esac
[ -n "$ACTIONS_RUNNER_INPUT_TOKEN" ] || { echo "no token" >&2; exit 3; }
name=""; url=""; work="_work"
while [ $# -gt 0 ]; do case "$1" in --name) name="$2"; shift;; --url) url="$2"; shift;; --work) work="$2"; shift;; esac; shift; done
printf '{"agentId": 1, "agentName": "%s", "poolId": 1, "gitHubUrl": "%s", "workFolder": "%s"}' "$name" "$url" "$work" > .runner
echo '{"scheme":"OAuth"}' > .credentials
`,
    { mode: 0o755 },
  );
  writeFileSync(join(tree, 'run.sh'), '#!/bin/sh\nexec ./bin/Runner.Listener run "$@"\n', { mode: 0o755 });
  writeFileSync(join(tree, 'run-helper.sh.template'), '#!/bin/sh\n# template\n', { mode: 0o644 });
  writeFileSync(join(tree, 'bin', 'Runner.Worker.dll'), `fake worker ${options.version ?? '2.330.0'}\n`);
  writeFileSync(join(tree, 'externals', 'node20', 'bin', 'node'), '#!/bin/sh\n', { mode: 0o755 });
  const filler = options.filler ?? { files: 20, bytesEach: 1024 };
  for (let i = 0; i < filler.files; i++) {
    const sub = join(tree, 'bin', `lib${i % 10}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `System.Fake${i}.dll`), Buffer.alloc(filler.bytesEach, i % 251));
  }
  const archive = join(dir, `actions-runner-linux-x64-${options.version ?? '2.330.0'}.tar.gz`);
  await execFileAsync('tar', ['-czf', archive, '-C', tree, '.']);
  const bytes = readFileSync(archive);
  return { archive, sha256: createHash('sha256').update(bytes).digest('hex'), bytes, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** How the package server misbehaves. */
export type ServeMode = 'ok' | 'truncate' | 'interrupt-once' | 'interrupt-always' | 'no-range' | 'interrupt-once-no-range';

/** A loopback HTTP server that serves `bytes` at any path, honouring `Range`, with injected faults. */
export async function servePackage(bytes: Buffer, mode: ServeMode = 'ok'): Promise<{ url: string; requests: Array<{ range: string | null }>; setMode: (m: ServeMode) => void; close: () => Promise<void> }> {
  let current = mode;
  let interrupted = 0;
  const requests: Array<{ range: string | null }> = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const range = request.headers.range ?? null;
    requests.push({ range });
    const half = Math.floor(bytes.length / 2);
    if (current === 'truncate') {
      // A clean, complete-looking answer with only half the bytes: only the digest can tell.
      response.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(half) });
      response.end(bytes.subarray(0, half));
      return;
    }
    const match = range && current !== 'no-range' && current !== 'interrupt-once-no-range' ? /^bytes=(\d+)-$/.exec(range) : null;
    const start = match ? Number(match[1]) : 0;
    if (start >= bytes.length) {
      response.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/gzip', 'content-length': String(bytes.length - start), 'accept-ranges': 'bytes' };
    if (match) headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    response.writeHead(match ? 206 : 200, headers);
    if (current === 'interrupt-always' || ((current === 'interrupt-once' || current === 'interrupt-once-no-range') && interrupted === 0)) {
      interrupted += 1;
      // Send part of the body, then cut the connection mid-transfer. The cut waits a moment so the
      // client has read what was sent (an immediate reset can discard it from its receive buffer).
      response.write(bytes.subarray(start, start + Math.max(1, Math.floor((bytes.length - start) / 3))), () => setTimeout(() => response.destroy(), 200));
      return;
    }
    response.end(bytes.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setMode: (m) => {
      current = m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Makes files writable again so a test's temporary directory can be removed. */
export function forceRemove(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A fake runner home: config.sh and svc.sh record their calls (never a token value) and keep
 * the state real ones would (.runner/.credentials; .service and a running flag).
 */
export function fakeRunnerHome(): { home: string; calls: () => string[]; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'jp-home-'));
  writeFileSync(join(home, 'config.sh'), `#!/bin/sh
echo "config.sh $* token=\${ACTIONS_RUNNER_INPUT_TOKEN:+set}" >> calls.log
[ -f .runner ] && { echo "Cannot configure the runner because it is already configured." >&2; exit 1; }
name=""; url=""; work=""
while [ $# -gt 0 ]; do case "$1" in --name) name="$2"; shift;; --url) url="$2"; shift;; --work) work="$2"; shift;; esac; shift; done
printf '\\357\\273\\277{"agentId": 99, "agentName": "%s", "gitHubUrl": "%s", "workFolder": "%s"}' "$name" "$url" "$work" > .runner
echo '{}' > .credentials
`, { mode: 0o755 });
  writeFileSync(join(home, 'svc.sh'), `#!/bin/sh
echo "svc.sh $*" >> calls.log
case "$1" in
  install) echo "actions.runner.acme-app.base.service" > .service;;
  start) touch .svc-running;;
  stop) rm -f .svc-running;;
  status) [ -f .svc-running ] && echo "Active: active (running)" || echo "Active: inactive (dead)";;
esac
`, { mode: 0o755 });
  mkdirSync(join(home, '_work', 'app'), { recursive: true });
  writeFileSync(join(home, '_work', 'app', 'keep.txt'), 'kept');
  const calls = () => (existsSync(join(home, 'calls.log')) ? readFileSync(join(home, 'calls.log'), 'utf8').trim().split('\n') : []);
  return { home, calls, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

