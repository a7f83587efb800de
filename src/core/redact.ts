/**
 * Secret hygiene: every secret value jitpool reads is registered here once, and every string
 * that leaves the process (log lines, error messages, API bodies, stored runner output) can be
 * scrubbed of them — in the forms a job or a tool is likely to print them: as is, base64 (with
 * and without padding, URL-safe) and URL-encoded.
 *
 * A runner's secrets (its JIT config) are registered under the runner's name and forgotten when
 * the runner is removed, so the registry holds what is alive, not everything ever seen: a daemon
 * that ran 50,000 runners must not scan 50,000 configs for every log line.
 */

/** Shorter values are not registered: they would redact ordinary words. */
const MIN_SECRET_LENGTH = 8;
/** Forms are indexed by their first characters, so {@link redact} costs one lookup per text position. */
const PREFIX_LENGTH = 6;
const CENSOR = '[REDACTED]';

/** Secrets that live as long as the process (tokens, webhook secret, keys). */
const permanent = new Set<string>();
/** Secrets owned by something that ends (a runner, by name). */
const byOwner = new Map<string, Set<string>>();
/** Every form of every registered secret, with how many secrets produce it. */
const formCounts = new Map<string, number>();
/** Forms by their first {@link PREFIX_LENGTH} characters, longest first; rebuilt lazily. */
let index: Map<string, string[]> | null = null;

/**
 * The forms under which `value` may appear in text: itself, without base64 padding, URL-safe
 * base64, its own base64 (padded and not) and the URL-encoding of each. Long values (a JIT
 * config) skip the double encodings, which nobody prints but which would cost memory.
 */
export function secretForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const unpadded = value.replace(/=+$/, '');
  forms.add(unpadded);
  if (/^[A-Za-z0-9+/]+=*$/.test(value)) forms.add(unpadded.replace(/\+/g, '-').replace(/\//g, '_'));
  if (value.length <= 512) {
    const encoded = Buffer.from(value, 'utf8').toString('base64');
    forms.add(encoded);
    forms.add(encoded.replace(/=+$/, ''));
    forms.add(Buffer.from(value, 'utf8').toString('base64url'));
  }
  for (const form of [...forms]) forms.add(encodeURIComponent(form));
  return [...forms].filter((form) => form.length >= MIN_SECRET_LENGTH);
}

/**
 * Registers a secret value so {@link redact} removes it (in every {@link secretForms} form)
 * wherever it appears. With `owner`, the secret is forgotten by {@link forgetSecrets}(owner).
 * Short values are ignored.
 */
export function registerSecret(value: string | undefined | null, owner?: string): void {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  if (permanent.has(value)) return;
  if (owner === undefined) {
    permanent.add(value);
  } else {
    const owned = byOwner.get(owner) ?? new Set<string>();
    if (owned.has(value)) return;
    owned.add(value);
    byOwner.set(owner, owned);
  }
  for (const form of secretForms(value)) formCounts.set(form, (formCounts.get(form) ?? 0) + 1);
  index = null;
}

/**
 * Registers a runner's JIT config under `owner` (the runner's name): the encoded config and the
 * secret parts inside it — the `.credentials` and `.credentials_rsaparams` files, the OAuth client
 * id and the RSA private key fields — since a job that decodes the config could print those.
 */
export function registerJitConfig(encoded: string, owner: string): void {
  registerSecret(encoded, owner);
  for (const part of jitConfigSecretParts(encoded)) registerSecret(part, owner);
}

/** The secret parts of an encoded JIT config (none when it does not decode as one). */
export function jitConfigSecretParts(encoded: string): string[] {
  const parts: string[] = [];
  const files = decodeBase64Json(encoded);
  if (!files) return parts;
  for (const name of ['.credentials', '.credentials_rsaparams']) {
    const file = files[name];
    if (typeof file !== 'string') continue;
    parts.push(file);
    const content = decodeBase64Json(file);
    if (!content) continue;
    if (name === '.credentials') {
      const clientId = (content.data as Record<string, unknown> | undefined)?.clientId;
      if (typeof clientId === 'string') parts.push(clientId);
    } else {
      for (const value of Object.values(content)) if (typeof value === 'string') parts.push(value);
    }
  }
  return parts;
}

/** Forgets every secret registered under `owner` (a removed runner); returns how many. */
export function forgetSecrets(owner: string): number {
  const owned = byOwner.get(owner);
  if (!owned) return 0;
  byOwner.delete(owner);
  for (const value of owned) {
    for (const form of secretForms(value)) {
      const count = (formCounts.get(form) ?? 1) - 1;
      if (count <= 0) formCounts.delete(form);
      else formCounts.set(form, count);
    }
  }
  index = null;
  return owned.size;
}

/** How much the registry holds (tests and metrics: it must stay bounded). */
export function secretRegistrySize(): { secrets: number; owners: number; forms: number } {
  let owned = 0;
  for (const set of byOwner.values()) owned += set.size;
  return { secrets: permanent.size + owned, owners: byOwner.size, forms: formCounts.size };
}

/** Replaces every registered secret, in any of its forms, in `text` with `[REDACTED]`. */
export function redact(text: string): string {
  if (formCounts.size === 0 || text.length < MIN_SECRET_LENGTH) return text;
  const byPrefix = currentIndex();
  let out = '';
  let copiedUpTo = 0;
  let position = 0;
  while (position <= text.length - MIN_SECRET_LENGTH) {
    const candidates = byPrefix.get(text.slice(position, position + PREFIX_LENGTH));
    const hit = candidates?.find((form) => text.startsWith(form, position));
    if (hit) {
      out += text.slice(copiedUpTo, position) + CENSOR;
      position += hit.length;
      copiedUpTo = position;
    } else {
      position += 1;
    }
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

/** GitHub token formats (PAT, OAuth, user-to-server, server-to-server, refresh, fine-grained). */
const GITHUB_TOKEN_PATTERN = /\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g;

/**
 * Scrubs a runner's output before it is stored or shown: every registered secret in any of its
 * forms, and anything shaped like a GitHub token (a job may print its own `GITHUB_TOKEN`, which
 * jitpool never saw).
 */
export function redactOutput(text: string): string {
  return redact(text).replace(GITHUB_TOKEN_PATTERN, CENSOR);
}

function currentIndex(): Map<string, string[]> {
  if (index) return index;
  const built = new Map<string, string[]>();
  for (const form of formCounts.keys()) {
    const key = form.slice(0, PREFIX_LENGTH);
    const list = built.get(key) ?? [];
    list.push(form);
    built.set(key, list);
  }
  for (const list of built.values()) list.sort((a, b) => b.length - a.length);
  index = built;
  return built;
}

function decodeBase64Json(text: string): Record<string, unknown> | null {
  if (!/^[A-Za-z0-9+/_-]+=*$/.test(text.trim())) return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text.trim(), 'base64').toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
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
