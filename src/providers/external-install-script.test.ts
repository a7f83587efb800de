import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MetadataService } from './external-metadata.ts';
import { startMetadataServer, type MetadataServer } from './external-metadata-server.ts';
import { sandboxSkipReason } from './process-test-helpers.ts';

/**
 * The served install script, run for real as a booting machine would run it (root, bash, curl,
 * tar, sha256sum), inside a bubblewrap mount namespace whose /home/runner, /etc/systemd/system
 * and /tmp are scratch directories. Only systemd is stood in for: `systemctl` is a stub that
 * records what it was asked to start.
 */

const FILES = { '.runner': '{"agentId": 7}\n', '.credentials': '{"data": {"clientId": "client-secret-5678"}}\n', '.credentials_rsaparams': '{"d": "rsa-private"}\n' };
const JIT = Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(FILES).map(([name, text]) => [name, Buffer.from(text).toString('base64')])))).toString('base64');
const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root (the install script runs as root on a machine)' : sandboxSkipReason();

describe('the install script on a (stand-in) machine', { skip, timeout: 120_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'jitpool-install-'));
  const service = new MetadataService();
  let metadata: MetadataServer;
  let downloads: Server;
  let downloadsUrl = '';
  let sha256 = '';

  before(async () => {
    // The runner package a real pool lists in `tools`: a tarball with bin/Runner.Listener.
    const pkg = join(root, 'pkg');
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    writeFileSync(join(pkg, 'bin', 'Runner.Listener'), '#!/bin/sh\necho listener\n', { mode: 0o755 });
    execFileSync('tar', ['czf', join(root, 'runner.tar.gz'), '-C', pkg, '.']);
    const tarball = readFileSync(join(root, 'runner.tar.gz'));
    sha256 = createHash('sha256').update(tarball).digest('hex');
    downloads = createServer((_request, response) => response.end(tarball));
    await new Promise<void>((resolve) => downloads.listen(0, '127.0.0.1', resolve));
    const address = downloads.address();
    downloadsUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/runner.tar.gz`;
    metadata = await startMetadataServer(service, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await metadata?.close();
    await new Promise((resolve) => downloads?.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });

  /** Registers an instance, fetches its install script as garm's wrapper userdata does, and runs it. */
  async function boot(name: string, toolSha256: string) {
    const token = service.register({
      name, pool: 'vm', createAttempt: 1, labels: ['self-hosted'], registrationUrl: 'https://github.com/acme/app', serviceName: 'actions.runner.acme.app',
      tools: [{ os: 'linux', architecture: 'x64', download_url: downloadsUrl, filename: 'runner.tar.gz', sha256_checksum: toolSha256 }], jitConfig: JIT, ttlMs: 60_000,
    });
    const response = await fetch(`${metadata.url}/api/v1/metadata/install-script/`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    const machine = join(root, name);
    const [home, units, stubs, etc] = ['home', 'units', 'stubs', 'etc'].map((dir) => join(machine, dir)) as [string, string, string, string];
    for (const dir of [home, units, stubs, etc]) mkdirSync(dir, { recursive: true });
    writeFileSync(join(etc, 'passwd'), `${readFileSync('/etc/passwd', 'utf8')}runner:x:1001:1001::/home/runner:/bin/bash\n`);
    writeFileSync(join(etc, 'group'), `${readFileSync('/etc/group', 'utf8')}runner:x:1001:\n`);
    writeFileSync(join(stubs, 'systemctl'), `#!/bin/sh\necho "$*" >> ${join(machine, 'systemctl.log')}\n`);
    chmodSync(join(stubs, 'systemctl'), 0o755);
    writeFileSync(join(machine, 'install.sh'), await response.text());
    // Asynchronously: the listener and the download server answering the script live in this process.
    const result = await run('bwrap', [
      '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp',
      '--tmpfs', '/home', '--bind', home, '/home/runner', '--bind', units, '/etc/systemd/system', '--bind', machine, machine,
      '--ro-bind', join(etc, 'passwd'), '/etc/passwd', '--ro-bind', join(etc, 'group'), '/etc/group',
      '--setenv', 'PATH', `${stubs}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`,
      'bash', join(machine, 'install.sh'),
    ]);
    return { result, home, units, machine, token };
  }

  test('downloads and verifies the runner, installs the registration 0600 for the runner user, starts the unit, reports idle', async () => {
    const { result, home, units, machine, token } = await boot('jp-vm-install', sha256);
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    const runHome = join(home, 'actions-runner');
    for (const [file, text] of Object.entries(FILES)) {
      assert.equal(readFileSync(join(runHome, file), 'utf8'), text);
      const stat = statSync(join(runHome, file));
      assert.equal(stat.mode & 0o777, 0o600, `${file} is 0600`);
      assert.equal(stat.uid, 1001, `${file} belongs to the runner user`);
    }
    assert.ok(statSync(join(runHome, 'bin', 'Runner.Listener')).isFile(), 'the runner package was extracted');
    assert.match(readFileSync(join(units, 'actions.runner.acme.app.service'), 'utf8'), /^User=runner$/m);
    assert.deepEqual(readFileSync(join(machine, 'systemctl.log'), 'utf8').trim().split('\n'), ['daemon-reload', 'start actions.runner.acme.app.service']);
    assert.deepEqual(service.view('jp-vm-install')?.reports.map((r) => r.status).at(-1), 'idle');
    const again = await fetch(`${metadata.url}/api/v1/metadata/credentials/runner`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(again.status, 401, 'the token is spent once the machine reported idle');
  });

  test('a runner package whose digest does not match is refused and the machine reports failed', async () => {
    const { result, home } = await boot('jp-vm-badsum', 'f'.repeat(64));
    assert.notEqual(result.status, 0);
    const view = service.view('jp-vm-badsum');
    assert.equal(view?.status, 'failed');
    assert.match(view?.reports.at(-1)?.message ?? '', /checksum mismatch/);
    assert.throws(() => statSync(join(home, 'actions-runner', '.credentials')), 'no registration was fetched');
  });
});

function run(command: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
