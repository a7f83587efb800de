import { parseDocument } from 'yaml';
import { formatPath, type ConfigProblem } from './problems.ts';

/**
 * `JITPOOL_*` environment overrides: `JITPOOL_API__PORT=9090` sets `api.port`. Segments are
 * separated by `__`, each UPPER_SNAKE segment becomes camelCase and a numeric one indexes a list
 * (`JITPOOL_POOLS__0__MAX=4` sets `pools[0].max`). A variable is an override only when its first
 * segment names a top-level key, so secret variables such as `JITPOOL_GITHUB_TOKEN` (→
 * `githubToken`, not a key) are never mistaken for one.
 */

/** One path segment: a mapping key or a list index. */
export type PathSegment = string | number;

/** One override read from the environment. */
export interface EnvOverride {
  /** The variable, e.g. `JITPOOL_POOLS__0__MAX`. */
  variable: string;
  /** Where it applies, e.g. `['pools', 0, 'max']`. */
  path: PathSegment[];
  /** The value parsed as a YAML scalar. */
  value: unknown;
}

/** A part of the configuration that an environment variable wrote or created. */
export interface EnvOrigin {
  path: PathSegment[];
  variable: string;
}

const PREFIX = 'JITPOOL_';
const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$/;
const INDEX = /^\d+$/;

/** `API_URL` → `apiUrl`. */
export function camelCaseSegment(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_match, next: string) => next.toUpperCase());
}

/**
 * Parses an override's value as a YAML scalar (`9090` → number, `true` → boolean, anything else a
 * string). A flow list or mapping (`[a, b]`) is accepted too; text that YAML would read as a block
 * mapping (`a: b`) or cannot parse stays the literal string, which is what the operator typed.
 */
export function parseEnvValue(text: string): unknown {
  if (text === '') return '';
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return text;
  const value: unknown = doc.toJS();
  if (value !== null && typeof value === 'object' && !/^\s*[[{]/.test(text)) return text;
  return value;
}

/** Reads every override from `env`; names it cannot turn into a path become problems. */
export function collectEnvOverrides(
  env: NodeJS.ProcessEnv,
  topLevelKeys: ReadonlySet<string>,
): { overrides: EnvOverride[]; problems: ConfigProblem[] } {
  const overrides: EnvOverride[] = [];
  const problems: ConfigProblem[] = [];
  // Numeric order (POOLS__2 before POOLS__10), so appending list items one index at a time works.
  const names = Object.keys(env)
    .filter((name) => name.startsWith(PREFIX))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  for (const variable of names) {
    const text = env[variable];
    if (text === undefined) continue;
    const segments = variable.slice(PREFIX.length).split('__');
    const first = segments[0] ?? '';
    if (!UPPER_SNAKE.test(first) || !topLevelKeys.has(camelCaseSegment(first))) continue;
    const path: PathSegment[] = [];
    const bad = segments.find((segment) => !UPPER_SNAKE.test(segment) && !INDEX.test(segment));
    if (bad !== undefined) {
      problems.push({
        path: camelCaseSegment(first),
        message: `cannot read the name of ${variable}: segment "${bad}" is neither UPPER_SNAKE nor a list index; segments are separated by "__" (from env ${variable})`,
        envVar: variable,
      });
      continue;
    }
    for (const segment of segments) path.push(INDEX.test(segment) ? Number(segment) : camelCaseSegment(segment));
    overrides.push({ variable, path, value: parseEnvValue(text) });
  }
  return { overrides, problems };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describeKind(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}

/**
 * Writes the overrides into `root` (mutated; pass a fresh copy) and records what each variable
 * wrote or created, so a later schema problem can be blamed on the variable instead of a YAML line.
 * Missing mappings and lists on the way are created; a list index may append (`== length`) but not
 * leave a hole.
 */
export function applyEnvOverrides(
  root: Record<string, unknown>,
  overrides: readonly EnvOverride[],
): { origins: EnvOrigin[]; problems: ConfigProblem[] } {
  const origins: EnvOrigin[] = [];
  const problems: ConfigProblem[] = [];
  for (const { variable, path, value } of overrides) {
    let container: Record<string, unknown> | unknown[] = root;
    let failure: string | undefined;
    const created: PathSegment[][] = [];
    for (let depth = 0; depth < path.length && failure === undefined; depth++) {
      const segment = path[depth] as PathSegment;
      const isLast = depth === path.length - 1;
      const here = path.slice(0, depth + 1);
      let next: unknown;
      if (Array.isArray(container)) {
        if (typeof segment !== 'number') {
          failure = `${formatPath(path.slice(0, depth))} is a list; use a numeric index instead of "${segment}"`;
          break;
        }
        if (segment > container.length) {
          failure = `index ${segment} is past the end of ${formatPath(path.slice(0, depth))} (${container.length} items; index ${container.length} adds one)`;
          break;
        }
        if (isLast) container[segment] = value;
        else next = container[segment];
      } else {
        const key = String(segment);
        if (isLast) container[key] = value;
        else next = container[key];
      }
      if (isLast) break;
      if (next === undefined || next === null) {
        next = typeof path[depth + 1] === 'number' ? [] : {};
        if (Array.isArray(container)) container[segment as number] = next;
        else container[String(segment)] = next;
        created.push(here);
      } else if (!Array.isArray(next) && !isRecord(next)) {
        failure = `${formatPath(here)} is ${describeKind(next)}, so ${formatPath(path)} cannot be set`;
        break;
      }
      container = next as Record<string, unknown> | unknown[];
    }
    // Containers created before a failure stay; blaming them on the variable keeps the report honest.
    for (const createdPath of created) origins.push({ path: createdPath, variable });
    if (failure !== undefined) {
      problems.push({ path: formatPath(path), message: `${failure} (from env ${variable})`, envVar: variable });
      continue;
    }
    origins.push({ path: [...path], variable });
  }
  return { origins, problems };
}

/** The variable that wrote (or created the parent of) `path`, if any: the most specific one wins. */
export function envOriginOf(origins: readonly EnvOrigin[], path: readonly PropertyKey[]): string | undefined {
  let best: EnvOrigin | undefined;
  for (const origin of origins) {
    if (origin.path.length > path.length) continue;
    if (!origin.path.every((segment, index) => String(segment) === String(path[index]))) continue;
    if (best === undefined || origin.path.length >= best.path.length) best = origin;
  }
  return best?.variable;
}
