/**
 * Secret hygiene: every secret value jitpool reads is registered here once, and every string
 * that leaves the process (log lines, error messages, API bodies) can be scrubbed of them.
 */

const secrets = new Set<string>();

/** Registers a secret value so {@link redact} removes it wherever it appears. Short values are ignored. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 8) secrets.add(value);
}

/** Replaces every registered secret in `text` with `[REDACTED]`. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}

/** Field names whose values are never logged, whatever they hold. */
export const REDACTED_FIELDS = [
  'token',
  'secret',
  'password',
  'privateKey',
  'jitConfig',
  'encoded_jit_config',
  'authorization',
  '*.token',
  '*.secret',
  '*.jitConfig',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-hub-signature-256"]',
];
