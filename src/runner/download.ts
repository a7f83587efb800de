import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { JitpoolError, sleep } from '../core/index.ts';

/** Options of {@link downloadVerified}. */
export interface DownloadOptions {
  url: string;
  /** Final path; written only once the digest matches (atomic rename from `<dest>.part`). */
  dest: string;
  /** Expected SHA-256, 64 hex characters. */
  sha256: string;
  /** Attempts before giving up; each one resumes the partial file with a `Range` request. @default 3 */
  attempts?: number;
  /** Pause before attempt n is n × this. @default 1000 */
  retryDelayMs?: number;
  /** A request that sends no byte for this long is abandoned (and resumed by the next attempt). @default 60000 */
  idleTimeoutMs?: number;
  /** Injected fetch (tests). @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** What {@link downloadVerified} did. */
export interface DownloadResult {
  path: string;
  bytes: number;
  /** Attempts made (1 when nothing failed). */
  attempts: number;
  /** True when an attempt continued a partial file instead of starting over. */
  resumed: boolean;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Normalises a configured SHA-256 (case, an optional `sha256:` prefix); throws `JP_INPUT_INVALID` naming `field` when it is not one. */
export function normalizeSha256(value: string, field: string): string {
  const digest = value.trim().toLowerCase().replace(/^sha256:/, '');
  if (!SHA256_HEX.test(digest)) throw new JitpoolError('JP_INPUT_INVALID', `${field}: expected a SHA-256 digest (64 hex characters)`);
  // All zeros is a placeholder (what examples write for "fill this in"), never a real digest.
  if (/^0+$/.test(digest)) throw new JitpoolError('JP_INPUT_INVALID', `${field}: ${digest.slice(0, 8)}… is a placeholder, not a digest`, { fix: `remove it to use the digest jitpool ships for its pinned version, or copy the real one from the release notes` });
  return digest;
}

/** The SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Downloads `url` to `dest`, verified: bytes go to `<dest>.part`; an interrupted transfer is
 * resumed with `Range` on the next attempt (a server that answers 200 instead of 206 restarts
 * it); once complete, the SHA-256 is checked and the file renamed into place. A digest mismatch
 * deletes the partial file and throws `JP_RUNNER_CHECKSUM` — never retried, since the same
 * bytes would come back. Transport failures throw `JP_RUNNER_DOWNLOAD` (retryable).
 */
export async function downloadVerified(options: DownloadOptions): Promise<DownloadResult> {
  const expected = normalizeSha256(options.sha256, 'sha256');
  const attempts = options.attempts ?? 3;
  const doFetch = options.fetch ?? globalThis.fetch;
  const part = `${options.dest}.part`;
  await mkdir(dirname(options.dest), { recursive: true });
  let resumed = false;
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await sleep((options.retryDelayMs ?? 1000) * (attempt - 1));
    const have = await sizeOf(part);
    try {
      const complete = await fetchInto(doFetch, options.url, part, have, options.idleTimeoutMs ?? 60_000);
      if (complete.resumedFrom > 0) resumed = true;
      const actual = await sha256File(part);
      if (actual !== expected) {
        await rm(part, { force: true });
        throw new JitpoolError('JP_RUNNER_CHECKSUM', `SHA-256 mismatch for ${safeUrl(options.url)}: expected ${expected}, got ${actual}; the download was deleted`, {
          details: { url: safeUrl(options.url), expected, actual, bytes: complete.bytes },
        });
      }
      await rename(part, options.dest);
      return { path: options.dest, bytes: complete.bytes, attempts: attempt, resumed };
    } catch (err) {
      if (err instanceof JitpoolError && !err.retryable) throw err;
      lastError = err;
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new JitpoolError('JP_RUNNER_DOWNLOAD', `could not download ${safeUrl(options.url)} after ${attempts} attempts: ${reason}`, {
    cause: lastError,
    details: { url: safeUrl(options.url), partialBytes: await sizeOf(part) },
  });
}

/** Appends the rest of `url` to `part` from byte `have`; returns the final size once the server says it is complete. */
async function fetchInto(doFetch: typeof fetch, url: string, part: string, have: number, idleTimeoutMs: number): Promise<{ bytes: number; resumedFrom: number }> {
  const idle = new AbortController();
  let timer = setTimeout(() => idle.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(new Error(`no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
  };
  try {
    const response = await doFetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, redirect: 'follow', signal: idle.signal });
    if (response.status === 416 && have > 0) {
      // The partial file is already as long as the resource (or longer): let the digest decide.
      await response.body?.cancel();
      return { bytes: have, resumedFrom: have };
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
      throw new JitpoolError('JP_RUNNER_DOWNLOAD', `HTTP ${response.status} from ${safeUrl(url)}`, { retryable });
    }
    if (!response.body) throw new JitpoolError('JP_RUNNER_DOWNLOAD', `empty response from ${safeUrl(url)}`);
    const isResume = response.status === 206 && have > 0 && contentRangeStart(response.headers.get('content-range')) === have;
    const start = isResume ? have : 0;
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', touch);
    await pipeline(body, createWriteStream(part, { flags: isResume ? 'a' : 'w', mode: 0o600 }));
    const bytes = await sizeOf(part);
    if (Number.isFinite(declared) && bytes - start !== declared) {
      throw new JitpoolError('JP_RUNNER_DOWNLOAD', `connection closed after ${bytes - start} of ${declared} bytes`);
    }
    return { bytes, resumedFrom: start };
  } finally {
    clearTimeout(timer);
  }
}

function contentRangeStart(header: string | null): number | null {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header ?? '');
  return match ? Number(match[1]) : null;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** The URL without credentials or query (a mirror URL may carry a token). */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
