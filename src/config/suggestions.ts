import type { ConfigProblem } from './problems.ts';

/**
 * "Did you mean" for `jitpool config check`: the known field names at a path come from the
 * config's own JSON Schema (one source of truth with the schema), and a misspelt field also
 * explains the "required field is missing" problem it caused, so that follow-on problem is dropped.
 */

type JsonSchema = { properties?: Record<string, JsonSchema>; items?: JsonSchema; oneOf?: JsonSchema[]; anyOf?: JsonSchema[]; const?: unknown; enum?: unknown[] };

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two short names. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest of `candidates` to `word`, when it is close enough to be a typo (or differs only in case, `_` or `-`). */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const fold = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = fold(candidate) === fold(word) ? 0 : editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestDistance <= allowed ? best : undefined;
}

/**
 * The field names the schema allows in the object at `path` of `input`. Inside a `oneOf`
 * (a pool's `scope`, a `provider`), the branch whose `const` discriminator matches the value is
 * used; without a match, the names of every branch.
 */
export function knownKeysAt(schema: JsonSchema, path: readonly PropertyKey[], input: unknown): Set<string> {
  let nodes: JsonSchema[] = [schema];
  let value = input;
  for (const segment of path) {
    nodes = nodes.flatMap((node) => branches(node, value)).flatMap((node) => {
      if (typeof segment === 'number') return node.items ? [node.items] : [];
      const child = node.properties?.[String(segment)];
      return child ? [child] : [];
    });
    value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[segment] : undefined;
  }
  return new Set(nodes.flatMap((node) => branches(node, value)).flatMap((node) => Object.keys(node.properties ?? {})));
}

function branches(node: JsonSchema, value: unknown): JsonSchema[] {
  const options = node.oneOf ?? node.anyOf;
  if (!options) return [node];
  const all = options.flatMap((option) => branches(option, value));
  if (value === null || typeof value !== 'object') return all;
  const record = value as Record<string, unknown>;
  const matching = all.filter((option) => Object.entries(option.properties ?? {}).some(([key, prop]) => prop.const !== undefined && record[key] === prop.const));
  return matching.length > 0 ? matching : all;
}

/** An unknown field found by the schema, before it is located in the source. */
export interface UnknownField {
  path: readonly PropertyKey[];
  key: string;
}

/**
 * Adds "did you mean" to unknown-field problems and drops the problems a misspelt field caused at
 * the name it was meant to have (`labels` missing because `lables` was written). `problems` and
 * `unknown` are parallel for unknown fields: `unknownPathOf(problem)` says which problems are.
 */
export function withSuggestions(
  problems: readonly ConfigProblem[],
  unknown: ReadonlyMap<ConfigProblem, UnknownField>,
  schema: JsonSchema,
  input: unknown,
  formatPath: (path: readonly PropertyKey[]) => string,
): ConfigProblem[] {
  const meant = new Set<string>();
  const suggested = new Map<ConfigProblem, ConfigProblem>();
  for (const problem of problems) {
    const field = unknown.get(problem);
    if (!field) continue;
    const parentPath = field.path.slice(0, -1);
    const parent = valueAt(input, parentPath);
    const known = [...knownKeysAt(schema, parentPath, input)].filter((key) => !(parent !== null && typeof parent === 'object' && key in parent));
    const suggestion = closest(field.key, known);
    if (suggestion === undefined) continue;
    meant.add(formatPath([...parentPath, suggestion]));
    suggested.set(problem, { ...problem, message: `${problem.message}; did you mean "${suggestion}"?` });
  }
  return problems
    .filter((problem) => unknown.has(problem) || !meant.has(problem.path))
    .map((problem) => suggested.get(problem) ?? problem);
}

/** `"dockr" is not one of …` gains the closest allowed value. */
export function suggestValue(value: unknown, options: readonly unknown[]): string {
  if (typeof value !== 'string') return '';
  const match = closest(value, options.filter((option): option is string => typeof option === 'string'));
  return match === undefined ? '' : `; did you mean "${match}"?`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}
