import { randomBytes } from 'node:crypto';
// Direct import (not ../core/index.ts): the fake runner, which imports this, runs standalone in the Docker test image.
import { JitpoolError } from '../core/errors.ts';

/** The `.runner` file the actions runner keeps in its root directory. */
export interface RunnerFile {
  agentId: number;
  agentName: string;
  poolId: number;
  poolName: string;
  serverUrl: string;
  gitHubUrl: string;
  workFolder: string;
  ephemeral: boolean;
  useV2Flow: boolean;
}

/** The `.credentials` file: OAuth client credentials (the client id is the runner's secret here). */
export interface CredentialsFile {
  scheme: 'OAuth';
  data: { clientId: string; authorizationUrl: string; requireFipsCryptography: string };
}

/** A decoded JIT config: the three files, each both parsed and as raw text to write to disk. */
export interface DecodedJitConfig {
  runner: RunnerFile;
  credentials: CredentialsFile;
  files: Record<'.runner' | '.credentials' | '.credentials_rsaparams', string>;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

/**
 * Encodes a JIT config the way GitHub does: base64 of a JSON map from file name to the
 * base64 of that file's content.
 */
export function encodeJitConfig(runner: RunnerFile, credentials: CredentialsFile): string {
  const rsaParams = Object.fromEntries(
    ['d', 'dp', 'dq', 'exponent', 'inverseQ', 'modulus', 'p', 'q'].map((field) => [field, randomBytes(field === 'exponent' ? 3 : 64).toString('base64')]),
  );
  const files = {
    '.runner': b64(JSON.stringify(runner, null, 2)),
    '.credentials': b64(JSON.stringify(credentials, null, 2)),
    '.credentials_rsaparams': b64(JSON.stringify(rsaParams)),
  };
  return b64(JSON.stringify(files));
}

/** Decodes a JIT config; throws `JP_INPUT_INVALID` when it is not one. */
export function decodeJitConfig(encoded: string): DecodedJitConfig {
  try {
    const map = JSON.parse(unb64(encoded.trim())) as Record<string, unknown>;
    const files = {
      '.runner': unb64(String(map['.runner'] ?? '')),
      '.credentials': unb64(String(map['.credentials'] ?? '')),
      '.credentials_rsaparams': unb64(String(map['.credentials_rsaparams'] ?? '')),
    };
    const runner = JSON.parse(files['.runner']) as RunnerFile;
    const credentials = JSON.parse(files['.credentials']) as CredentialsFile;
    if (typeof runner.agentId !== 'number' || typeof runner.serverUrl !== 'string' || typeof credentials.data?.clientId !== 'string') {
      throw new Error('missing agentId, serverUrl or clientId');
    }
    return { runner, credentials, files };
  } catch (err) {
    throw new JitpoolError('JP_INPUT_INVALID', 'not a valid JIT config', { cause: err });
  }
}
