import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isJitpoolError, silentLogger } from '../core/index.ts';
import { FAKE_RUNNER_SCRIPT } from '../sim/index.ts';
import { ProcessProvider } from './process-provider.ts';
import { SANDBOX_HOME, bwrapArgs, commandRoots, identityFiles, masksFor, type SandboxLayout } from './process-sandbox.ts';
import { waitFor } from './provider-contract.ts';
import { sandboxSkipReason } from './process-test-helpers.ts';

const PROJECT_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

function layout(overrides: Partial<SandboxLayout> = {}): SandboxLayout {
  return {
    host: { bwrap: '/usr/bin/bwrap', isRoot: false, setpriv: null },
    network: 'host',
    workDir: '/srv/work/jp-a-1',
    readOnly: [],
    hidden: [],
    passwdFile: '/srv/book/passwd',
    groupFile: '/srv/book/group',
    emptyDir: '/srv/book/empty',
    runnerUid: null,
    command: ['/bin/true'],
    ...overrides,
  };
}

/** The argument following `flag` (each occurrence). */
function valuesOf(args: string[], flag: string, width = 1): string[][] {
  const out: string[][] = [];
  args.forEach((arg, i) => {
    if (arg === flag) out.push(args.slice(i + 1, i + 1 + width));
  });
  return out;
}

describe('bwrap arguments', () => {
  it('without root: a user namespace mapping the controller to 1001, nested user namespaces off, no setpriv', () => {
    const args = bwrapArgs(layout());
    for (const flag of ['--unshare-user', '--disable-userns', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--as-pid-1', '--new-session']) assert.ok(args.includes(flag), flag);
    assert.deepEqual(valuesOf(args, '--uid'), [['1001']]);
    assert.ok(!args.some((arg) => arg.endsWith('setpriv')));
    assert.ok(!args.includes('--unshare-net'), 'host network by default');
    assert.ok(!args.includes('--die-with-parent'), 'the runner must outlive a controller crash');
  });

  it('as root: namespaces built by bwrap, then setpriv to the runner’s own uid with no capability left', () => {
    const args = bwrapArgs(layout({ host: { bwrap: '/usr/bin/bwrap', isRoot: true, setpriv: '/usr/bin/setpriv' }, runnerUid: 1879048200 }));
    assert.ok(!args.includes('--unshare-user'));
    const setpriv = args.indexOf('/usr/bin/setpriv');
    assert.ok(setpriv > args.indexOf('--'), 'setpriv is the sandbox’s command');
    for (const flag of ['--reuid=1879048200', '--regid=1879048200', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs']) assert.ok(args.slice(setpriv).includes(flag), flag);
    assert.deepEqual(valuesOf(args, '--cap-drop'), [['ALL']]);
  });

  it('network: none unshares the network', () => {
    assert.ok(bwrapArgs(layout({ network: 'none' })).includes('--unshare-net'));
  });

  it('mounts the work dir writable at the runner’s home and each package entry read-only over it', () => {
    const args = bwrapArgs(layout({ packageDir: '/cache/pkg', mounted: ['bin', 'run.sh'] }));
    assert.deepEqual(valuesOf(args, '--bind', 2), [['/srv/work/jp-a-1', SANDBOX_HOME]]);
    const readOnly = valuesOf(args, '--ro-bind', 2);
    assert.ok(readOnly.some(([from, to]) => from === '/cache/pkg/bin' && to === `${SANDBOX_HOME}/bin`));
    assert.ok(readOnly.some(([from, to]) => from === '/cache/pkg/run.sh' && to === `${SANDBOX_HOME}/run.sh`));
    // The package is mounted after the work dir, so it lies on top.
    assert.ok(args.lastIndexOf('/cache/pkg/bin') > args.indexOf('/srv/work/jp-a-1'));
  });
});

describe('masks and visible paths', () => {
  it('hides a state dir, a config file and a key under a visible tree; ignores what is not visible anyway', () => {
    const root = mkdtempSync(join(tmpdir(), 'jp-mask-'));
    try {
      const state = join(root, '.state');
      mkdirSync(join(state, 'work'), { recursive: true });
      writeFileSync(join(root, 'jitpool.yaml'), 'x');
      const elsewhere = mkdtempSync(join(tmpdir(), 'jp-elsewhere-'));
      const masks = masksFor([root], [state, join(state, 'work'), join(root, 'jitpool.yaml'), elsewhere]);
      assert.deepEqual(masks, [
        { path: state, isDirectory: true },
        { path: join(root, 'jitpool.yaml'), isDirectory: false },
      ]);
      rmSync(elsewhere, { recursive: true });
      const args = bwrapArgs(layout({ readOnly: [root], hidden: [state, join(root, 'jitpool.yaml')] }));
      const readOnly = valuesOf(args, '--ro-bind', 2);
      assert.ok(readOnly.some(([from, to]) => from === '/srv/book/empty' && to === state));
      assert.ok(readOnly.some(([from, to]) => from === '/dev/null' && to === join(root, 'jitpool.yaml')));
      // The masks come after the tree they cover.
      assert.ok(args.lastIndexOf(state) > args.indexOf(root));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a command’s own files: the enclosing project for Node and its scripts, nothing for system binaries', () => {
    assert.deepEqual(commandRoots([process.execPath, FAKE_RUNNER_SCRIPT, 'run']), [PROJECT_ROOT]);
    assert.deepEqual(commandRoots(['/bin/true']), []);
    assert.deepEqual(commandRoots(['true'], '/usr/bin:/bin'), []);
    const dir = mkdtempSync(join(tmpdir(), 'jp-cmd-'));
    try {
      writeFileSync(join(dir, 'runner.sh'), '#!/bin/sh\n', { mode: 0o755 });
      assert.deepEqual(commandRoots([join(dir, 'runner.sh')]), [dir], 'outside a Node project: the file’s directory');
      assert.deepEqual(commandRoots(['runner.sh'], dir), [dir], 'found on PATH');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the runner in /etc/passwd and /etc/group, replacing any account with its uid', () => {
    const { passwd, group } = identityFiles(0);
    assert.match(passwd, /^runner:x:0:0:jitpool runner:\/home\/runner:\/bin\/sh$/m);
    assert.doesNotMatch(passwd, /^root:/m, 'the host account with that uid is dropped');
    assert.match(group, /^runner:x:0:$/m);
  });
});

describe('when the sandbox cannot start', () => {
  const workRoots: string[] = [];
  after(() => {
    for (const dir of workRoots) rmSync(dir, { recursive: true, force: true });
  });
  const tempRoot = () => {
    workRoots.push(mkdtempSync(join(tmpdir(), 'jp-nosb-')));
    return workRoots.at(-1)!;
  };
  const make = (bwrapPath: string) => new ProcessProvider({ controllerId: 'nosb', command: ['/bin/true'], workRoot: tempRoot(), sandbox: { bwrapPath }, logger: silentLogger() });
  const spec = { runnerId: '1', runnerName: 'jp-nosb-0001', pool: 'nosb', controllerId: 'nosb', labels: [], jitConfig: 'x', context: {} };

  it('bwrap missing: preflight and create fail with JP_SANDBOX_UNAVAILABLE naming the fix; nothing runs unsandboxed', async () => {
    const provider = make('/nonexistent/bwrap');
    const check = (err: unknown) => isJitpoolError(err, 'JP_SANDBOX_UNAVAILABLE') && /apt-get install bubblewrap/.test(err.message) && /sandbox: none/.test(err.message);
    await assert.rejects(provider.preflight(), check);
    await assert.rejects(provider.create(spec), check);
    assert.deepEqual(await provider.list(), [], 'no runner was started');
  });

  it('bwrap too old or user namespaces refused: each failure says what to change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jp-fakebwrap-'));
    try {
      const fake = (name: string, line: string) => {
        writeFileSync(join(dir, name), `#!/bin/sh\necho ${JSON.stringify(line)} >&2\nexit 1\n`);
        chmodSync(join(dir, name), 0o755);
        return join(dir, name);
      };
      await assert.rejects(make(fake('old', 'bwrap: Unknown option --disable-userns')).preflight(), (err: unknown) => isJitpoolError(err, 'JP_SANDBOX_UNAVAILABLE') && /upgrade bubblewrap/.test(err.message));
      await assert.rejects(
        make(fake('userns', 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces')).preflight(),
        (err: unknown) => isJitpoolError(err, 'JP_SANDBOX_UNAVAILABLE') && (/unprivileged_userns_clone/.test(err.message) || /CAP_SYS_ADMIN/.test(err.message)),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses settings that only make sense in a sandbox when it is off', () => {
    const workRoot = tempRoot();
    assert.throws(() => new ProcessProvider({ controllerId: 'x', command: ['/bin/true'], workRoot, sandbox: { kind: 'none', network: 'none' }, logger: silentLogger() }), (err: unknown) => isJitpoolError(err, 'JP_CONFIG_INVALID'));
    for (const path of ['relative/dir', '/', '/proc', '/dev/shm']) {
      assert.throws(() => new ProcessProvider({ controllerId: 'x', command: ['/bin/true'], workRoot, sandbox: { readOnlyPaths: [path] }, logger: silentLogger() }), (err: unknown) => isJitpoolError(err, 'JP_CONFIG_INVALID'), path);
    }
  });
});

describe('a sandboxed runner and a controller crash', { skip: sandboxSkipReason() }, () => {
  it('keeps running when its controller is SIGKILLed; the restarted controller lists it and reads its exit code', async (t) => {
    const workRoot = mkdtempSync(join(tmpdir(), 'jp-crash-'));
    t.after(() => rmSync(workRoot, { recursive: true, force: true }));
    const providerModule = new URL('./process-provider.ts', import.meta.url).href;
    const coreModule = new URL('../core/index.ts', import.meta.url).href;
    // The "controller": a process that launches a runner, says so, and waits to be killed.
    const controllerScript = `
      import { ProcessProvider } from ${JSON.stringify(providerModule)};
      import { silentLogger } from ${JSON.stringify(coreModule)};
      const provider = new ProcessProvider({ controllerId: 'crash', command: ['/bin/sh', '-c', 'while [ ! -e go ]; do sleep 0.1; done; exit 5'], workRoot: ${JSON.stringify(workRoot)}, logger: silentLogger() });
      await provider.create({ runnerId: '1', runnerName: 'jp-crash-0001', pool: 'crash', controllerId: 'crash', labels: [], jitConfig: 'x', context: {} });
      console.log('launched');
      setInterval(() => {}, 1e9);`;
    const controller = spawn(process.execPath, ['--input-type=module', '-e', controllerScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      controller.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('launched') && resolve());
      controller.once('exit', (code) => reject(new Error(`the controller exited with ${code} before launching`)));
    });
    controller.kill('SIGKILL');
    await new Promise((resolve) => controller.once('exit', resolve));

    const restarted = new ProcessProvider({ controllerId: 'crash', command: ['/bin/true'], workRoot, logger: silentLogger() });
    t.after(() => restarted.delete('jp-crash-0001'));
    const [found] = await restarted.list();
    assert.equal(found?.computeId, 'jp-crash-0001');
    assert.equal(found?.state, 'running', 'the runner survived its controller');
    // Let it finish while no controller watches: its exit code is still known.
    writeFileSync(join(workRoot, 'jp-crash-0001', 'go'), '');
    const exited = await waitFor(async () => {
      const info = await restarted.inspect('jp-crash-0001');
      return info?.state === 'exited' ? info : null;
    }, 'the runner to exit');
    assert.equal(exited.exitCode, 5);
  });
});

describe('a sandbox started by a controller that is not root', { skip: sandboxSkipReason() || (process.getuid?.() !== 0 && 'needs root to start a controller as another user') }, () => {
  it('runs the runner as uid 1001 of a user namespace, sees only its own processes, and cannot nest user namespaces', async (t) => {
    const workRoot = mkdtempSync(join(tmpdir(), 'jp-userns-'));
    chownSync(workRoot, 65534, 65534);
    t.after(() => rmSync(workRoot, { recursive: true, force: true }));
    const script = `
      import { ProcessProvider } from ${JSON.stringify(new URL('./process-provider.ts', import.meta.url).href)};
      import { silentLogger } from ${JSON.stringify(new URL('../core/index.ts', import.meta.url).href)};
      const provider = new ProcessProvider({ controllerId: 'userns', workRoot: ${JSON.stringify(join(workRoot, 'work'))}, logger: silentLogger(),
        command: ['/bin/sh', '-c', 'echo uid=$(id -u); echo pids=$(ls /proc | grep -c "^[0-9]"); unshare -U true 2>/dev/null && echo nested=ok || echo nested=refused'] });
      await provider.create({ runnerId: '1', runnerName: 'jp-userns-0001', pool: 'p', controllerId: 'userns', labels: [], jitConfig: 'x', context: {} });
      let info;
      for (let i = 0; i < 300 && (info = await provider.inspect('jp-userns-0001'))?.state !== 'exited'; i++) await new Promise((r) => setTimeout(r, 100));
      console.log(JSON.stringify({ exitCode: info?.exitCode, log: await provider.logs('jp-userns-0001', 20) }));
      await provider.delete('jp-userns-0001');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, cwd: workRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as { exitCode: number; log: string };
    assert.equal(result.exitCode, 0, result.log);
    assert.match(result.log, /^uid=1001$/m);
    assert.match(result.log, /^nested=refused$/m);
    const pids = Number(/^pids=(\d+)$/m.exec(result.log)?.[1]);
    assert.ok(pids > 0 && pids < 6, `the runner sees ${pids} processes`);
  });
});

