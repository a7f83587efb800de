import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isJitpoolError, redact } from '../core/index.ts';
import { readPrivateKey, resolveSecret } from './index.ts';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'jitpool-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function secretFile(dir: string, content: string, mode = 0o600): string {
  const file = join(dir, 'secret');
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

test('the first set variable wins, in list order; empty variables count as unset', () => {
  const source = { env: ['A_TOKEN', 'B_TOKEN', 'C_TOKEN'] };
  assert.equal(resolveSecret(source, 'GitHub token', { A_TOKEN: '', B_TOKEN: 'from-b-0000', C_TOKEN: 'from-c-0000' }), 'from-b-0000');
  assert.equal(resolveSecret(source, 'GitHub token', { C_TOKEN: 'from-c-0000', A_TOKEN: 'from-a-0000' }), 'from-a-0000');
});

test('a variable beats the file; the file is trimmed; every value read is registered for redaction', (t) => {
  const file = secretFile(tempDir(t), '  file-secret-value-1234\n');
  assert.equal(resolveSecret({ env: ['X_SECRET'], file }, 'webhook secret', { X_SECRET: 'env-secret-value-1234' }), 'env-secret-value-1234');
  assert.equal(resolveSecret({ env: ['X_SECRET'], file }, 'webhook secret', {}), 'file-secret-value-1234');
  assert.equal(redact('a env-secret-value-1234 b file-secret-value-1234'), 'a [REDACTED] b [REDACTED]');
});

test('missing everywhere: JP_SECRET_MISSING names what and where, never a value', (t) => {
  const file = join(tempDir(t), 'absent');
  assert.throws(
    () => resolveSecret({ env: ['A_TOKEN', 'B_TOKEN'], file }, 'GitHub token', { A_TOKEN: '' }),
    (err) => {
      assert.ok(isJitpoolError(err, 'JP_SECRET_MISSING'));
      for (const part of ['GitHub token', 'A_TOKEN', 'B_TOKEN', file]) assert.ok(err.message.includes(part), err.message);
      return true;
    },
  );
  assert.throws(() => resolveSecret({ env: [] }, 'webhook secret', {}), (err) => isJitpoolError(err, 'JP_SECRET_MISSING'));
  const empty = secretFile(tempDir(t), '\n');
  assert.throws(() => resolveSecret({ env: [], file: empty }, 'webhook secret', {}), (err) => isJitpoolError(err, 'JP_SECRET_MISSING'));
});

test('a secret file readable by group or others is read, with a warning', { skip: process.platform === 'win32' }, (t) => {
  const warnings: string[] = [];
  const onWarning = (warning: string): void => void warnings.push(warning);
  const dir = tempDir(t);
  const shared = secretFile(dir, 'shared-secret-value-1234', 0o644);
  assert.equal(resolveSecret({ env: [], file: shared }, 'token', {}, { onWarning }), 'shared-secret-value-1234');
  assert.equal(warnings.length, 1);
  assert.ok(warnings[0]?.includes('0644') && !warnings[0].includes('shared-secret-value-1234'));
  const privateFile = secretFile(dir, 'private-secret-value-1234', 0o600);
  resolveSecret({ env: [], file: privateFile }, 'token', {}, { onWarning });
  assert.equal(warnings.length, 1);
});

test('readPrivateKey reads a PEM key, registers it, and refuses anything else', (t) => {
  const dir = tempDir(t);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const keyFile = join(dir, 'app.pem');
  writeFileSync(keyFile, privateKey, { mode: 0o600 });
  const pem = readPrivateKey(keyFile, { onWarning: () => assert.fail('no warning expected') });
  assert.equal(pem, privateKey.trim());
  assert.equal(redact(`key=${pem}`), 'key=[REDACTED]');

  const notKey = join(dir, 'not-a-key.pem');
  writeFileSync(notKey, 'hello', { mode: 0o600 });
  assert.throws(() => readPrivateKey(notKey), (err) => isJitpoolError(err, 'JP_CONFIG_INVALID'));
  assert.throws(() => readPrivateKey(join(dir, 'absent.pem')), (err) => isJitpoolError(err, 'JP_SECRET_MISSING'));
});
