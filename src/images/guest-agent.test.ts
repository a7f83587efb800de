import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GUEST_AGENT_SCRIPT } from './index.ts';

// The guest agent on the host's /bin/sh (dash on Debian), as root dropping to an unprivileged
// user with util-linux setpriv, the path Debian images take (the busybox `su` path runs in every
// nspawn test). The listener is a stand-in that records who it runs as and what it was given.
const skip = process.getuid?.() !== 0 ? 'the agent drops privileges: needs root' : false;

function runAgent(dir: string, listener: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', [GUEST_AGENT_SCRIPT], {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', JITPOOL_AGENT_DIR: dir, JITPOOL_AGENT_LISTENER: listener, JITPOOL_AGENT_USER: 'nobody', JITPOOL_AGENT_POWEROFF: '0', RUNNER_NAME: 'jp-agent-1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout }));
  });
}

test('the agent reads and deletes the JIT config, runs the listener as the runner user with the config in its environment only, reports its exit code', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'jitpool-agent-'));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const listener = join(dir, 'Runner.Listener');
  writeFileSync(listener, `#!/bin/sh\n{ echo "uid=$(id -u)"; echo "argv=$*"; echo "jit=$ACTIONS_RUNNER_INPUT_JITCONFIG"; echo "name=$RUNNER_NAME"; } > ${dir}/out/seen\nexit 3\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'jitconfig'), 'c2VjcmV0LWppdC1jb25maWc=', { mode: 0o400 });
  const nobody = Number(readFileSync('/etc/passwd', 'utf8').match(/^nobody:x:(\d+):/m)?.[1] ?? 65534);
  chownSync(join(dir, 'jitconfig'), nobody, nobody);
  // Somewhere the unprivileged listener may write its record.
  const out = join(dir, 'out');
  mkdirSync(out);
  chmodSync(out, 0o777);

  const { code, stdout } = await runAgent(dir, listener);
  assert.equal(code, 3, 'the agent exits with the runner’s code');
  assert.match(stdout, /^jitpool-agent: runner exited 3$/m);
  assert.equal(readFileSync(join(dir, 'exit-code'), 'utf8').trim(), '3');
  assert.equal(existsSync(join(dir, 'jitconfig')), false, 'the JIT config file is gone');
  const seen = readFileSync(join(out, 'seen'), 'utf8');
  assert.match(seen, new RegExp(`^uid=${nobody}$`, 'm'), 'the runner does not run as root');
  assert.match(seen, /^argv=run$/m, 'only `run` on the command line');
  assert.match(seen, /^jit=c2VjcmV0LWppdC1jb25maWc=$/m);
  assert.match(seen, /^name=jp-agent-1$/m);

  const missing = await runAgent(dir, listener);
  assert.equal(missing.code, 1, 'no JIT config: exit 1');
  assert.match(missing.stdout, /no JIT config/);
});
