import { createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { JitpoolError, registerSecret } from '../core/index.ts';
import type { SecretSource } from './schema.ts';

/**
 * Secrets are read once, at start-up, from the places the config names: the first set variable
 * of an ordered list, else a file. Values are registered for redaction the moment they are read
 * and never appear in errors or warnings — only the places tried do.
 */

/** Options for {@link resolveSecret} and {@link readPrivateKey}. */
export interface SecretReadOptions {
  /**
   * Receives a warning when a secret file can be read by its group or by others.
   * @default process.emitWarning
   */
  onWarning?: (warning: string) => void;
}

const defaultWarn = (warning: string): void => process.emitWarning(warning, { code: 'JITPOOL_SECRET_FILE_MODE' });

/**
 * The secret `what` (e.g. "GitHub token") from `source`: the first variable in `source.env` that
 * is set and non-empty, else the file's content with surrounding whitespace trimmed. Throws
 * `JP_SECRET_MISSING` naming `what` and every place tried.
 */
export function resolveSecret(
  source: SecretSource,
  what: string,
  env: NodeJS.ProcessEnv = process.env,
  options: SecretReadOptions = {},
): string {
  for (const name of source.env) {
    const value = env[name];
    // An empty variable counts as unset: `docker run -e TOKEN=` and CI templates produce them.
    if (value !== undefined && value.trim() !== '') {
      const secret = value.trim();
      registerSecret(secret);
      return secret;
    }
  }
  const tried = source.env.map((name) => `env ${name}`);
  if (source.file !== undefined) {
    const file = source.file;
    const read = readSecretFile(file, options);
    if (read.ok) {
      const secret = read.text.trim();
      if (secret !== '') {
        registerSecret(secret);
        return secret;
      }
      tried.push(`file ${file} (empty)`);
    } else {
      tried.push(`file ${file} (${read.reason})`);
    }
  }
  const places = tried.length > 0 ? tried.join(', ') : 'nowhere: the config lists no variable and no file';
  throw new JitpoolError('JP_SECRET_MISSING', `${what} is not set; tried ${places}`, { details: { what, tried } });
}

/**
 * Reads and checks a PEM private key (a GitHub App's), registering it for redaction. Throws
 * `JP_SECRET_MISSING` when the file cannot be read and `JP_CONFIG_INVALID` when it is not a key.
 */
export function readPrivateKey(file: string, options: SecretReadOptions = {}): string {
  const read = readSecretFile(file, options);
  if (!read.ok) {
    throw new JitpoolError('JP_SECRET_MISSING', `private key file ${file}: ${read.reason}`, { details: { file } });
  }
  const pem = read.text.trim();
  registerSecret(pem);
  try {
    createPrivateKey(pem);
  } catch {
    // No cause: the crypto error could quote part of the key.
    throw new JitpoolError('JP_CONFIG_INVALID', `private key file ${file} does not hold a PEM private key`, { details: { file } });
  }
  return pem;
}

type SecretFileRead = { ok: true; text: string } | { ok: false; reason: string };

function readSecretFile(file: string, options: SecretReadOptions): SecretFileRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'not found' : `unreadable: ${code ?? 'error'}` };
  }
  warnIfShared(file, options.onWarning ?? defaultWarn);
  return { ok: true, text };
}

/** Secret files should be 0600 (or 0400); POSIX modes mean nothing on Windows. */
function warnIfShared(file: string, warn: (warning: string) => void): void {
  if (process.platform === 'win32') return;
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    warn(`secret file ${file} is readable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run chmod 600 ${file}`);
  }
}
