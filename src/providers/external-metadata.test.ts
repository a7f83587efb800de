import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { isJitpoolError } from '../core/index.ts';
import { renderInstallScript, shellQuote } from './external-install-script.ts';
import { MetadataService } from './external-metadata.ts';
import { startMetadataServer, type MetadataServer } from './external-metadata-server.ts';

/** The instance-facing endpoints through a real listener: garm's paths, bodies and status codes. */

const FILES = { '.runner': '{"agentId": 7}', '.credentials': '{"data": {"clientId": "client-secret-1234"}}', '.credentials_rsaparams': '{"d": "rsa-private-d"}' };
const JIT = Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(FILES).map(([name, text]) => [name, Buffer.from(text).toString('base64')])))).toString('base64');

function registration(name: string, createAttempt = 1, ttlMs = 600_000) {
  return { name, pool: 'vm', createAttempt, labels: ['self-hosted', 'linux'], registrationUrl: 'https://github.com/acme/app', serviceName: 'actions.runner.acme.app', tools: [], jitConfig: JIT, ttlMs };
}

describe('external metadata and callback endpoints', () => {
  const service = new MetadataService();
  let server: MetadataServer;
  const call = (path: string, token: string | null, init: RequestInit = {}) =>
    fetch(`${server.url}/api/v1${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) } });
  // garm's templates post JSON with `curl -d`, i.e. as application/x-www-form-urlencoded.
  const report = (token: string, status: string, message = 'm') =>
    call('/callbacks/status', token, { method: 'POST', body: JSON.stringify({ status, message }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

  before(async () => {
    server = await startMetadataServer(service, { host: '127.0.0.1', port: 0 });
  });
  after(() => server.close());

  test('a good token reads its registration files, service name, unit file, metadata and install script', async () => {
    const token = service.register(registration('jp-vm-good'));
    for (const [file, text] of Object.entries(FILES)) {
      const response = await call(`/metadata/credentials/${file.slice(1)}/`, token);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/octet-stream');
      assert.equal(response.headers.get('content-disposition'), `attachment; filename=${file}`);
      assert.equal(await response.text(), text);
    }
    assert.equal((await call('/metadata/credentials/nosuchfile', token)).status, 404);
    assert.equal(await (await call('/metadata/system/service-name/', token)).text(), 'actions.runner.acme.app');
    const unit = await (await call('/metadata/systemd/unit-file?runAsUser=runner', token)).text();
    assert.match(unit, /^ExecStart=\/home\/runner\/actions-runner\/bin\/Runner\.Listener run$/m);
    assert.equal((await call('/metadata/systemd/unit-file?runAsUser=x%0AExecStartPre%3D%2Fbin%2Fsh', token)).status, 400, 'runAsUser cannot inject unit lines');
    const metadata = (await (await call('/metadata/runner-metadata', token)).json()) as Record<string, unknown>;
    assert.equal(metadata.runner_name, 'jp-vm-good');
    assert.equal(metadata.jit_enabled, true);
    assert.equal((await call('/metadata/runner-registration-token/', token)).status, 401, 'JIT instances get no registration token');
    const script = await (await call('/metadata/install-script/', token)).text();
    execFileSync('bash', ['-n'], { input: script });
    assert.ok(script.includes(`BEARER_TOKEN='${token}'`));
    assert.equal((await call('/metadata/nothing-here', token)).status, 404);
  });

  test('no token, a forged token, another key’s token and an earlier attempt’s token are refused with 401', async () => {
    const token = service.register(registration('jp-vm-a'));
    service.register(registration('jp-vm-b'));
    const refused = async (t: string | null) => {
      const response = await call('/metadata/credentials/runner', t);
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { error: 'Authentication failed' });
    };
    await refused(null);
    await refused('not-a-jwt');
    // Another instance's name under A's signature: the signature no longer matches.
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    await refused(`${header}.${Buffer.from(JSON.stringify({ ...claims, name: 'jp-vm-b', id: 'jp-vm-b' })).toString('base64url')}.${signature}`);
    await refused(new MetadataService().register(registration('jp-vm-b')));
    // A genuine token of an instance that was deleted.
    const gone = service.register(registration('jp-vm-gone'));
    service.forget('jp-vm-gone');
    await refused(gone);
    // A genuine token with its signature altered.
    await refused(token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    const first = service.register(registration('jp-vm-retry', 1));
    const second = service.register(registration('jp-vm-retry', 2));
    await refused(first);
    assert.equal((await call('/metadata/credentials/runner', second)).status, 200, 'the current attempt’s token works');
    service.forget('jp-vm-retry');
    await refused(second);
  });

  test('an expired token is refused', async () => {
    const token = service.register(registration('jp-vm-old', 1, 60_000));
    const request = { method: 'GET', path: '/api/v1/metadata/credentials/runner', query: {}, authorization: `Bearer ${token}`, body: '' };
    assert.equal(service.handle(request).status, 200);
    assert.equal(service.handle(request, Date.now() + 61_000).status, 401);
  });

  test('after idle (or failed) the token stops working and the registration is forgotten', async () => {
    const idle = service.register(registration('jp-vm-idle'));
    assert.equal((await report(idle, 'installing', 'fetching')).status, 200);
    assert.equal((await call('/callbacks/system-info/', idle, { method: 'POST', body: '{"os_name": "Debian", "os_version": "12", "agent_id": null}' })).status, 200);
    assert.equal((await report(idle, 'idle', 'runner started')).status, 200);
    assert.equal((await call('/metadata/credentials/runner', idle)).status, 401);
    assert.equal((await report(idle, 'installing')).status, 401);
    assert.deepEqual(service.view('jp-vm-idle')?.reports.map((r) => r.status), ['installing', 'idle']);

    const failed = service.register(registration('jp-vm-failed'));
    assert.equal((await report(failed, 'failed', 'no disk')).status, 200);
    assert.equal((await call('/metadata/install-script', failed)).status, 401);
    assert.equal(service.view('jp-vm-failed')?.status, 'failed');
  });

  test('a malformed callback is a 400 with garm’s error body', async () => {
    const token = service.register(registration('jp-vm-bad'));
    const response = await call('/callbacks/status', token, { method: 'POST', body: 'status=idle' });
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), { error: 'Bad Request', details: 'invalid request' });
    assert.equal((await report(token, 'exploded')).status, 400);
    assert.equal(service.view('jp-vm-bad')?.status, 'pending');
  });
});

describe('values pasted into instance scripts', () => {
  const base = { runnerName: 'jp-vm-1', labels: ['self-hosted'], metadataUrl: 'http://10.0.0.1:9997/api/v1/metadata', callbackUrl: 'http://10.0.0.1:9997/api/v1/callbacks', token: 'a.b.c', tool: null };

  test('shellQuote survives hostile values in a real shell', () => {
    for (const value of [`$(touch /tmp/pwned)`, "it's", '`id`', '"; rm -rf / #', 'a\nb', '${HOME}', '\\']) {
      assert.equal(execFileSync('bash', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' }), value);
    }
  });

  test('unsafe names, labels, URLs, users and digests are refused before rendering', () => {
    const cases = [
      { runnerName: 'jp-$(id)' },
      { labels: ['ok', 'bad label'] },
      { metadataUrl: 'http://10.0.0.1/$(id)' },
      { callbackUrl: 'file:///etc/passwd' },
      { runAsUser: 'root;id' },
      { token: "a'b" },
      { tool: { os: 'linux', architecture: 'x64', download_url: 'https://example.test/r.tar.gz', filename: '../r.tar.gz' } },
      { tool: { os: 'linux', architecture: 'x64', download_url: 'https://example.test/r.tar.gz', filename: 'r.tar.gz', sha256_checksum: 'zz' } },
    ];
    for (const override of cases) {
      assert.throws(() => renderInstallScript({ ...base, ...override }), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'), JSON.stringify(override));
    }
    execFileSync('bash', ['-n'], { input: renderInstallScript(base) });
  });
});
