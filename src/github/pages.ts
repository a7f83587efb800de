/**
 * Reading a paginated GitHub list without letting a misbehaving server multiply the cost: the
 * `rel="last"` page bounds the walk when given, items are de-duplicated by id, a page that adds
 * nothing new ends it (a server that ignores `page` and repeats itself), and every list has its
 * own page cap — so a poll costs pages per list, never pages times runs.
 * https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api
 */

/** What a `Link` header says about the pages after this one. */
export interface PageLinks {
  hasNext: boolean;
  /** The page number of `rel="last"`, when the server gave one. */
  lastPage: number | null;
}

/** Parses GitHub's `Link` header (`<url?page=3>; rel="next", <url?page=9>; rel="last"`). */
export function parseLinks(header: unknown): PageLinks {
  const text = typeof header === 'string' ? header : Array.isArray(header) ? header.join(', ') : '';
  let hasNext = false;
  let lastPage: number | null = null;
  for (const part of text.split(',')) {
    const match = /<([^>]*)>\s*;\s*rel="?([a-z]+)"?/i.exec(part.trim());
    if (!match) continue;
    const [, url = '', rel = ''] = match;
    if (rel === 'next') hasNext = true;
    if (rel === 'last') {
      const page = Number(/[?&]page=(\d+)/.exec(url)?.[1]);
      if (Number.isInteger(page) && page > 0) lastPage = page;
    }
  }
  return { hasNext, lastPage };
}

/** One page as {@link readPages} needs it. */
export interface FetchedPage<Raw> {
  list: readonly Raw[];
  link: unknown;
  notModified: boolean;
}

/** What {@link readPages} read. */
export interface PagesRead<T> {
  items: T[];
  /** Every page was a 304 (free against the rate limit). */
  notModified: boolean;
  /** Requests made. */
  pages: number;
  /** The cap ended the walk while the server still announced more. */
  isTruncated: boolean;
}

/** Options of {@link readPages}. */
export interface ReadPagesOptions<Raw, T> {
  /** Most pages read for this one list. */
  maxPages: number;
  map: (raw: Raw) => T;
  /** The identity of an item (its id); items seen before are dropped. None: no de-duplication. */
  keyOf?: (raw: Raw) => unknown;
}

/** Walks a list's pages from 1 (see the module comment for what bounds the walk). */
export async function readPages<Raw, T>(fetchPage: (page: number) => Promise<FetchedPage<Raw>>, options: ReadPagesOptions<Raw, T>): Promise<PagesRead<T>> {
  const items: T[] = [];
  const seen = new Set<unknown>();
  let notModified = true;
  let lastPage: number | null = null;
  let pages = 0;
  for (let page = 1; page <= options.maxPages; page += 1) {
    const result = await fetchPage(page);
    pages += 1;
    notModified &&= result.notModified;
    let added = 0;
    for (const raw of result.list) {
      if (options.keyOf) {
        const key = options.keyOf(raw);
        if (key !== undefined && seen.has(key)) continue;
        seen.add(key);
      }
      items.push(options.map(raw));
      added += 1;
    }
    const links = parseLinks(result.link);
    if (links.lastPage !== null) lastPage = Math.min(lastPage ?? links.lastPage, links.lastPage);
    const isDone = !links.hasNext || (lastPage !== null && page >= lastPage) || added === 0;
    if (isDone) return { items, notModified, pages, isTruncated: false };
  }
  return { items, notModified, pages, isTruncated: true };
}
