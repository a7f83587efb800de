import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { forgetSecrets, jitConfigSecretParts, redact, redactOutput, registerJitConfig, registerSecret, secretRegistrySize } from './redact.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A JIT config shaped like GitHub's: base64 of a JSON map of file names to base64 contents. */
function jitConfig(seed: string): { encoded: string; clientId: string; privateExponent: string } {
  const clientId = `client-${seed}-0123456789abcdef`;
  const privateExponent = b64(`private-exponent-${seed}`.repeat(4));
  const files = {
    '.runner': b64(JSON.stringify({ agentId: 1, agentName: `jp-linux-${seed}`, serverUrl: 'https://pipelines.example' })),
    '.credentials': b64(JSON.stringify({ scheme: 'OAuth', data: { clientId, authorizationUrl: 'https://token.example/' } })),
    '.credentials_rsaparams': b64(JSON.stringify({ d: privateExponent, modulus: b64('public-modulus') })),
  };
  return { encoded: b64(JSON.stringify(files)), clientId, privateExponent };
}

describe('redaction', () => {
  it('removes a secret in its common encodings: as is, base64 with and without padding, URL-safe, URL-encoded', () => {
    const secret = 'ghp_redaction_test_secret_value_0123456789';
    registerSecret(secret);
    const encoded = b64(secret);
    for (const form of [secret, encoded, encoded.replace(/=+$/, ''), Buffer.from(secret).toString('base64url'), encodeURIComponent(secret), encodeURIComponent(encoded)]) {
      const out = redact(`before ${form} after`);
      assert.equal(out, 'before [REDACTED] after', `form ${form}`);
    }
  });

  it('a JIT config printed without its padding, URL-encoded, or its decoded secret parts', () => {
    const { encoded, clientId, privateExponent } = jitConfig('a1');
    const padded = encoded.endsWith('=') ? encoded : `${encoded}=`.slice(0, encoded.length);
    registerJitConfig(encoded, 'jp-linux-a1');
    assert.deepEqual(jitConfigSecretParts(encoded).includes(clientId), true);
    for (const text of [encoded, padded.replace(/=+$/, ''), encodeURIComponent(encoded), `clientId=${clientId}`, `"d":"${privateExponent}"`]) {
      const out = redact(`job log: ${text} end`);
      assert.doesNotMatch(out, /0123456789abcdef|private-exponent/, text.slice(0, 40));
      assert.ok(!out.includes(encoded.slice(0, 40)) || out.includes('[REDACTED]'));
    }
    // The non-secret parts (the runner's name, URLs) stay readable in logs.
    assert.equal(redact('runner jp-linux-a1 at https://pipelines.example'), 'runner jp-linux-a1 at https://pipelines.example');
    forgetSecrets('jp-linux-a1');
  });

  it('a runner\'s secrets are forgotten with it: the registry stays bounded after 5,000 runners', () => {
    const before = secretRegistrySize();
    for (let i = 0; i < 5000; i += 1) {
      const name = `jp-soak-${i.toString(16).padStart(12, '0')}`;
      registerJitConfig(jitConfig(String(i)).encoded, name);
      forgetSecrets(name);
    }
    assert.deepEqual(secretRegistrySize(), before);
  });

  it('costs one pass over the text, however many secrets are registered', () => {
    const names: string[] = [];
    for (let i = 0; i < 500; i += 1) {
      names.push(`jp-perf-${i}`);
      registerJitConfig(jitConfig(`p${i}`).encoded, `jp-perf-${i}`);
    }
    const line = `{"level":30,"component":"executor","msg":"runner launched","runnerName":"jp-linux-abc","computeId":"${'z'.repeat(200)}"}`;
    // Behaviour, not timing: the text is unchanged and each call returns the same string.
    for (let i = 0; i < 200; i += 1) assert.equal(redact(line), line);
    for (const name of names) forgetSecrets(name);
  });

  it('stored runner output also loses anything shaped like a GitHub token', () => {
    const out = redactOutput('token ghs_16C7e42F292c6912E7710c838347Ae178B4a and github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz ok');
    assert.equal(out, 'token [REDACTED] and [REDACTED] ok');
  });
});
