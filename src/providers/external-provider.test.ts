import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isJitpoolError, runnerName, shortId } from '../core/index.ts';
import { pidsWithArgv } from './process-test-helpers.ts';
import { makeExternalProvider, makeScratch, writeScript } from './external-test-helpers.ts';
import { waitFor } from './provider-contract.ts';
import type { ComputeSpec } from './types.ts';

/** Misbehaving operator commands: each failure is a JitpoolError with a code, recorded, never swallowed. */

const scratch = makeScratch();
after(() => scratch.remove());

const JIT_CONFIG = Buffer.from(JSON.stringify({ '.runner': Buffer.from('{"agentId":1}').toString('base64'), '.credentials': Buffer.from('{"secret":"s3cr3t-client-id-value"}').toString('base64'), '.credentials_rsaparams': Buffer.from('{"d":"rsa-d"}').toString('base64') })).toString('base64');

function spec(): ComputeSpec {
  const id = shortId();
  const name = runnerName('contract', id);
  return { runnerId: id, runnerName: name, pool: 'contract', controllerId: 'ext-test', labels: ['self-hosted', 'linux'], jitConfig: JIT_CONFIG, context: { repo_owner: 'acme', repo_name: 'app' } };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isJitpoolError(err), `a JitpoolError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('external provider: misbehaving commands, restarts', { timeout: 300_000 }, () => {
  test('a command that hangs (and ignores SIGTERM) is killed with its whole process group at the deadline', async () => {
    const marker = `hang-${shortId()}`;
    const script = writeScript(scratch, 'hang.sh', `trap '' TERM\nbash -c 'trap "" TERM; sleep 300; : ${marker}' &\nwait`);
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: script, timeouts: { createMs: 1500, deleteMs: 1500, queryMs: 1500 }, killGraceMs: 500 });
    try {
      const s = spec();
      const err = await rejectsWith(provider.create(s), 'JP_PROVIDER_TIMEOUT');
      assert.ok(!err.message.includes(s.jitConfig));
      assert.deepEqual(pidsWithArgv(marker), [], 'nothing of the hung command is left running');
      assert.match(await provider.logs(s.runnerName, 5), /JP_PROVIDER_TIMEOUT/, 'the failure is recorded on the instance');
    } finally {
      await provider.close();
    }
  });

  test('a command that leaves a detached child holding its stdout still ends at the deadline', async () => {
    const marker = `detach-${shortId()}`;
    const script = writeScript(scratch, 'detach.sh', `setsid bash -c 'sleep 300; : ${marker}' &\nexit 0`);
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: script, timeouts: { createMs: 1500, deleteMs: 1500, queryMs: 1500 }, killGraceMs: 300 });
    try {
      await rejectsWith(provider.create(spec()), 'JP_PROVIDER_TIMEOUT');
    } finally {
      // The detached child is outside the command's group by design; the test removes what it made.
      for (const pid of pidsWithArgv(marker)) process.kill(pid, 'SIGKILL');
      await provider.close();
    }
  });

  test('junk on stdout, a wrong status or another instance’s name is refused, not trusted', async () => {
    const cases = [
      'echo "hello, I am not JSON"',
      'echo \'{"provider_id": "x", "name": "\'"$(jq -r .name)"\'", "status": "banana"}\'',
      'echo \'{"provider_id": "x", "name": "jp-contract-someone-else", "status": "running"}\'',
      'echo \'{"name": "missing-provider-id", "status": "running"}\'',
    ];
    for (const [index, body] of cases.entries()) {
      const provider = makeExternalProvider(scratch, 'ext-test', { executable: writeScript(scratch, `junk-${index}.sh`, `[ "$GARM_COMMAND" = CreateInstance ] || exit 30\n${body}`) });
      try {
        const s = spec();
        await rejectsWith(provider.create(s), 'JP_PROVIDER_UNAVAILABLE');
        assert.match(await provider.logs(s.runnerName, 5), /last provider error: JP_PROVIDER_UNAVAILABLE/);
      } finally {
        await provider.close();
      }
    }
  });

  test('a non-zero exit fails with its stderr, redacted: the instance token the script echoed does not leak', async () => {
    const script = writeScript(scratch, 'fail.sh', 'cat >&2\necho "quota exceeded" >&2\nexit 3');
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: script });
    try {
      const err = await rejectsWith(provider.create(spec()), 'JP_PROVIDER_CREATE');
      assert.match(err.message, /exited with 3: .*quota exceeded/);
      assert.ok(!/eyJ[A-Za-z0-9_-]+\.eyJ/.test(err.message), 'no JWT in the error');
      assert.equal((err as { retryable?: boolean }).retryable, true, 'a failed create may be retried by the controller');
    } finally {
      await provider.close();
    }
  });

  test('the command sees the protocol environment, not the controller’s, and never the JIT config', async () => {
    const dump = join(scratch.root, `dump-${shortId()}`);
    const script = writeScript(scratch, 'dump.sh', `env > ${dump}.env\ncat > ${dump}.stdin\necho '{"provider_id": "p-1", "name": "'"$(jq -r .name ${dump}.stdin)"'", "status": "running"}'`);
    process.env.JITPOOL_TEST_SECRET = 'controller-secret-value';
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: script });
    try {
      const s = spec();
      const info = await provider.create(s);
      assert.equal(info.state, 'running');
      const env = readFileSync(`${dump}.env`, 'utf8');
      for (const name of ['GARM_COMMAND=CreateInstance', 'GARM_CONTROLLER_ID=ext-test', 'GARM_POOL_ID=contract', `GARM_PROVIDER_CONFIG_FILE=${scratch.configFile}`, 'GARM_INTERFACE_VERSION=v0.1.1', 'GARM_POOL_EXTRASPECS=']) {
        assert.ok(env.includes(name), `env has ${name}`);
      }
      assert.ok(!env.includes('controller-secret-value'), 'the controller environment is not inherited');
      const stdin = readFileSync(`${dump}.stdin`, 'utf8');
      const bootstrap = JSON.parse(stdin) as Record<string, unknown>;
      assert.equal(bootstrap.name, s.runnerName);
      assert.equal(bootstrap.jit_config_enabled, true);
      assert.match(String(bootstrap['metadata-url']), /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/metadata$/);
      assert.match(String(bootstrap['callback-url']), /\/api\/v1\/callbacks$/);
      assert.ok(!stdin.includes(s.jitConfig) && !stdin.includes('s3cr3t-client-id-value'), 'the JIT config is not handed to the command');
    } finally {
      delete process.env.JITPOOL_TEST_SECRET;
      await provider.close();
    }
  });

  test('duplicate (31) adopts the existing instance; delete treats not-found (30) as done and retries real failures', async () => {
    const flag = join(scratch.root, `fail-delete-${shortId()}`);
    const script = writeScript(scratch, 'dup.sh', [
      'case "$GARM_COMMAND" in',
      '  CreateInstance) exit 31 ;;',
      '  GetInstance) echo \'{"provider_id": "\'"$GARM_INSTANCE_ID"\'", "name": "\'"$GARM_INSTANCE_ID"\'", "status": "running"}\' ;;',
      `  DeleteInstance) if [ -e ${flag} ]; then echo "engine unreachable" >&2; exit 1; fi; exit 30 ;;`,
      '  ListInstances) echo "[]" ;;',
      'esac',
    ].join('\n'));
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: script, retries: 1 });
    try {
      const s = spec();
      const info = await provider.create(s);
      assert.equal(info.computeId, s.runnerName);
      assert.equal(info.state, 'running');
      writeFileSync(flag, '');
      const err = await rejectsWith(provider.delete(s.runnerName), 'JP_PROVIDER_DELETE');
      assert.match(err.message, /engine unreachable/);
      assert.ok(await provider.inspect(s.runnerName), 'a failed delete keeps the record: the instance is still ours to delete');
      rmSync(flag);
      await provider.delete(s.runnerName);
      assert.equal(await provider.inspect(s.runnerName), null);
      assert.ok(!existsSync(join(scratch.root, 'records', 'ext-test', `${s.runnerName}.json`)));
    } finally {
      await provider.close();
    }
  });

  test('a command that floods stdout is stopped', async () => {
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: writeScript(scratch, 'flood.sh', 'yes junk') });
    try {
      await rejectsWith(provider.create(spec()), 'JP_PROVIDER_UNAVAILABLE');
    } finally {
      await provider.close();
    }
  });

  test('a missing executable fails loudly and is not retried', async () => {
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: join(scratch.root, 'does-not-exist') });
    try {
      const err = await rejectsWith(provider.preflight(), 'JP_PROVIDER_UNAVAILABLE');
      assert.equal((err as { retryable?: boolean }).retryable, false);
    } finally {
      await provider.close();
    }
  });

  test('a restarted controller finds its instances (with their reported status) and deletes them', async () => {
    // Instances that run `sleep` instead of a runner: this test needs no GitHub.
    writeFileSync(scratch.configFile, JSON.stringify({ stateDir: scratch.stateDir, runnerCommand: ['sleep', '300'] }));
    const first = makeExternalProvider(scratch, 'ext-test');
    const s = spec();
    try {
      await first.create(s);
      await waitFor(async () => (await first.inspect(s.runnerName))?.isOnline || null, 'the instance reported idle');
    } finally {
      await first.close();
    }
    const second = makeExternalProvider(scratch, 'ext-test');
    try {
      const found = (await second.list()).find((info) => info.computeId === s.runnerName);
      assert.ok(found, 'list() after the restart shows the instance');
      assert.deepEqual([found.runnerId, found.state, found.isOnline], [s.runnerId, 'running', true]);
      assert.ok(pidsWithArgv(join(scratch.stateDir, s.runnerName)).length > 0, 'the instance kept running across the restart');
      await second.delete(s.runnerName);
      assert.deepEqual(pidsWithArgv(join(scratch.stateDir, s.runnerName)), []);
      assert.equal(await second.inspect(s.runnerName), null);
    } finally {
      await second.delete(s.runnerName).catch(() => {});
      await second.close();
    }
  });

  test('a garm-style provider (no exit codes): "failed" from the instance ends it as a launch failure, and is pushed', async () => {
    const dump = join(scratch.root, `garm-${shortId()}.stdin`);
    const script = writeScript(scratch, 'garm-like.sh', [
      'case "$GARM_COMMAND" in',
      `  CreateInstance) cat > ${dump}; echo '{"provider_id": "i-1", "name": "'"$(jq -r .name ${dump})"'", "status": "running"}' ;;`,
      `  GetInstance) [ "$GARM_INSTANCE_ID" = i-1 ] || exit 30; echo '{"provider_id": "i-1", "name": "'"$(jq -r .name ${dump})"'", "status": "running"}' ;;`,
      'esac',
    ].join('\n'));
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: script });
    const changes: string[] = [];
    provider.onChange((info) => changes.push(`${info.state}:${info.exitCode}`));
    try {
      const s = spec();
      assert.deepEqual(await provider.create(s).then((i) => [i.state, i.isOnline]), ['running', false]);
      const bootstrap = JSON.parse(readFileSync(dump, 'utf8')) as Record<string, string>;
      const response = await fetch(`${bootstrap['callback-url']}/status/`, {
        method: 'POST', headers: { authorization: `Bearer ${bootstrap['instance-token']}` }, body: JSON.stringify({ status: 'failed', message: 'cloud-init: no space left' }),
      });
      assert.equal(response.status, 200);
      const info = await provider.inspect(s.runnerName);
      assert.deepEqual([info?.state, info?.exitCode, info?.isOnline], ['exited', 1, false]);
      await waitFor(async () => changes.includes('exited:1') || null, 'the change pushed');
      assert.match(await provider.logs(s.runnerName, 5), /failed: cloud-init: no space left/);
    } finally {
      await provider.close();
    }
  });

  test('the example instance never passes its token or registration files through an argv', async () => {
    // Spies in front of curl, jq and base64 log every argv they are called with.
    const bin = join(scratch.root, `spy-${shortId()}`);
    const argvLog = join(bin, 'argv.log');
    mkdirSync(bin);
    for (const tool of ['curl', 'jq', 'base64']) {
      const real = execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      writeFileSync(join(bin, tool), `#!/bin/bash\nprintf '%s\\n' "$*" >> ${argvLog}\nexec ${real} "$@"\n`);
      chmodSync(join(bin, tool), 0o700);
    }
    writeFileSync(scratch.configFile, JSON.stringify({ stateDir: scratch.stateDir, runnerCommand: ['sleep', '300'] }));
    const provider = makeExternalProvider(scratch, 'ext-test', { path: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` });
    const s = spec();
    try {
      await provider.create(s);
      await waitFor(async () => (await provider.inspect(s.runnerName))?.isOnline || null, 'the instance reported idle');
      const argvs = readFileSync(argvLog, 'utf8');
      assert.match(argvs, /credentials\/credentials_rsaparams/, 'the spies saw the instance fetch its files');
      assert.ok(!argvs.includes('Bearer') && !/eyJ[A-Za-z0-9_-]{10,}\./.test(argvs), 'no token in any argv');
      const credentials = Buffer.from('{"secret":"s3cr3t-client-id-value"}');
      for (const form of ['s3cr3t-client-id-value', credentials.toString('base64').slice(0, 20), s.jitConfig.slice(0, 24)]) assert.ok(!argvs.includes(form), `no registration in any argv (${form})`);
    } finally {
      await provider.delete(s.runnerName);
      await provider.close();
    }
  });

  test('values garm providers paste into their userdata are checked before the command runs', async () => {
    const ran = join(scratch.root, `ran-${shortId()}`);
    const script = writeScript(scratch, 'never.sh', `touch ${ran}\nexit 1`);
    const hostile = [
      { metadata: { host: '127.0.0.1', port: 0, publicUrl: 'http://10.0.0.1:9997/$(reboot)', tokenTtlMs: 60_000 } },
      { bootstrap: { tools: [{ os: 'linux', architecture: 'x64', download_url: 'https://example.test/"; id; "', filename: 'r.tar.gz' }] } },
    ];
    for (const overrides of hostile) {
      const provider = makeExternalProvider(scratch, 'ext-test', { executable: script, ...overrides });
      try {
        await rejectsWith(provider.create(spec()), 'JP_INPUT_INVALID');
      } finally {
        await provider.close();
      }
    }
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: script });
    try {
      await rejectsWith(provider.create({ ...spec(), labels: ['self-hosted', 'gpu"$(id)"'] }), 'JP_INPUT_INVALID');
    } finally {
      await provider.close();
    }
    assert.ok(!existsSync(ran), 'the command never ran with an unsafe value');
  });

  test('preflight checks the interface version the provider speaks', async () => {
    const old = writeScript(scratch, 'v010.sh', 'case "$GARM_COMMAND" in GetVersion) echo v1.2.3 ;; *) echo "unknown command" >&2; exit 1 ;; esac');
    const provider = makeExternalProvider(scratch, 'ext-test', { executable: old });
    try {
      await rejectsWith(provider.preflight(), 'JP_CONFIG_INVALID');
    } finally {
      await provider.close();
    }
    const fine = makeExternalProvider(scratch, 'ext-test', { executable: old, interfaceVersion: 'v0.1.0' });
    try {
      await fine.preflight();
    } finally {
      await fine.close();
    }
    const example = makeExternalProvider(scratch, 'ext-test');
    try {
      await example.preflight();
    } finally {
      await example.close();
    }
  });
});
