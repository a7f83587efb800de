import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { z } from 'zod';
import { JitpoolError } from '../core/index.ts';
import { applyEnvOverrides, collectEnvOverrides, envOriginOf, type EnvOrigin } from './env-overrides.ts';
import { formatPath, formatProblems, type ConfigProblem } from './problems.ts';
import { configJsonSchema } from './json-schema.ts';
import { pathProblems } from './path-safety.ts';
import { suggestValue, withSuggestions, type UnknownField } from './suggestions.ts';
import { resolveConfigPaths } from './resolve-paths.ts';
import { configSchema, type Config } from './schema.ts';
import { parseYamlSource, type YamlSource } from './yaml-source.ts';

/**
 * Reading `jitpool.yaml`: YAML → `JITPOOL_*` overrides → schema → absolute paths → frozen.
 * Every problem is collected (syntax, schema, overrides) so an operator fixes a file in one pass.
 *
 * Paths are resolved here, not by callers: the returned config's file paths are absolute,
 * relative ones taken from the config file's directory (`dirname(sourceName)`), and
 * `store.sqlitePath` / process `workRoot` are filled from `store.stateDir` (see `resolveConfigPaths`).
 */

/** The outcome of {@link checkConfig}: a frozen config, or every problem found. */
export type ConfigCheckResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

/** Options for {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Where `JITPOOL_*` overrides come from. @default process.env */
  env?: NodeJS.ProcessEnv;
}

const TOP_LEVEL_KEYS: ReadonlySet<string> = new Set(Object.keys(configSchema.shape));

/**
 * Validates YAML text without throwing. `sourceName` is the file's path: relative paths in the
 * config resolve against its directory. `env` holds the overrides (none by default, so tests
 * are hermetic; {@link loadConfig} passes `process.env`).
 */
export function checkConfig(text: string, sourceName: string, env: NodeJS.ProcessEnv = {}): ConfigCheckResult {
  const source = parseYamlSource(text);
  // After a syntax error the data is a guess; schema problems about it would only mislead.
  if (source.problems.length > 0) return { ok: false, problems: source.problems };

  // An empty file is an empty mapping: the operator then sees "pools: required", not "expected object".
  const input: unknown = source.data ?? {};
  const problems: ConfigProblem[] = [];
  let origins: EnvOrigin[] = [];
  if (isRecord(input)) {
    const collected = collectEnvOverrides(env, TOP_LEVEL_KEYS);
    const applied = applyEnvOverrides(input, collected.overrides);
    problems.push(...collected.problems, ...applied.problems);
    origins = applied.origins;
  }

  const result = configSchema.safeParse(input);
  if (!result.success) {
    const unknown = new Map<ConfigProblem, UnknownField>();
    const schemaProblems: ConfigProblem[] = [];
    for (const issue of result.error.issues) schemaProblems.push(...issueProblems(issue, input, source, origins, unknown));
    problems.push(...withSuggestions(schemaProblems, unknown, inputJsonSchema(), input, formatPath));
  }
  if (problems.length > 0 || !result.success) return { ok: false, problems: sortProblems(problems) };
  const baseDir = dirname(resolve(sourceName));
  const resolved = resolveConfigPaths(result.data, baseDir);
  // Paths are judged once resolved: `./` and `..` must not hide a `/` or the state directory.
  const unsafe = pathProblems(resolved).map((problem) => locateProblem(problem.path, problem.message, source, origins, false));
  if (unsafe.length > 0) return { ok: false, problems: sortProblems(unsafe) };
  return { ok: true, config: deepFreeze(resolved) };
}

/** Like {@link checkConfig} but throws `JP_CONFIG_INVALID` listing every problem. */
export function parseConfig(text: string, sourceName: string, env: NodeJS.ProcessEnv = {}): Config {
  const result = checkConfig(text, sourceName, env);
  if (result.ok) return result.config;
  throw invalidConfigError(sourceName, result.problems);
}

/**
 * Reads, overrides, validates and freezes the config file at `path`. Throws
 * `JP_CONFIG_NOT_FOUND` when the file is missing and `JP_CONFIG_INVALID` (with
 * `details.problems`) when anything is wrong.
 */
export function loadConfig(path: string, options: LoadConfigOptions = {}): Config {
  return parseConfig(readConfigFile(path), path, options.env ?? process.env);
}

/** The text of a config file; `JP_CONFIG_NOT_FOUND` when it does not exist. */
export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new JitpoolError('JP_CONFIG_NOT_FOUND', `config file not found: ${path} (set -c FILE or JITPOOL_CONFIG)`, {
        cause: err,
        details: { file: path },
      });
    }
    throw new JitpoolError('JP_CONFIG_INVALID', `cannot read config file ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { file: path, problems: [] },
    });
  }
}

/** The `JP_CONFIG_INVALID` error for `problems`: one `FILE:LINE:COL: path: message` line each. */
export function invalidConfigError(sourceName: string, problems: readonly ConfigProblem[]): JitpoolError {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return new JitpoolError('JP_CONFIG_INVALID', `invalid config ${sourceName} (${count}):\n${formatProblems(sourceName, problems)}`, {
    details: { file: sourceName, problems: [...problems] },
  });
}

type Issue = z.core.$ZodIssue;

let cachedJsonSchema: Record<string, unknown> | undefined;
/** The config's JSON Schema, where "did you mean" finds the field names a path allows. */
function inputJsonSchema(): Record<string, unknown> {
  cachedJsonSchema ??= configJsonSchema();
  return cachedJsonSchema;
}

/** One zod issue → problems with a path, a readable message and a position (or the env variable). */
function issueProblems(issue: Issue, input: unknown, source: YamlSource, origins: readonly EnvOrigin[], unknown: Map<ConfigProblem, UnknownField>): ConfigProblem[] {
  // `unrecognized_keys` names several keys on the parent; report each at its own key.
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      const problem = locateProblem(path, `unknown field "${key}"`, source, origins, true);
      unknown.set(problem, { path, key });
      return problem;
    });
  }
  const value = valueAt(input, issue.path);
  let message = issue.message;
  if (issue.code === 'invalid_type' && value === undefined) {
    message = `required field is missing (expected ${issue.expected})`;
  } else if (issue.code === 'invalid_union') {
    const options = (issue as { options?: unknown[] }).options;
    if (Array.isArray(options) && options.length > 0) {
      const expected = options.map((option) => JSON.stringify(option)).join(', ');
      message = value === undefined ? `required: one of ${expected}` : `${JSON.stringify(value)} is not one of ${expected}${suggestValue(value, options)}`;
    }
  }
  return [locateProblem(issue.path, message, source, origins, false)];
}

function locateProblem(
  path: readonly PropertyKey[],
  message: string,
  source: YamlSource,
  origins: readonly EnvOrigin[],
  preferKey: boolean,
): ConfigProblem {
  const variable = envOriginOf(origins, path);
  if (variable !== undefined) return { path: formatPath(path), message: `${message} (from env ${variable})`, envVar: variable };
  return { path: formatPath(path), message, ...source.locate(path, { preferKey }) };
}

/** Source order; problems without a position (environment overrides) last. */
function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const key = (problem: ConfigProblem): number => (problem.line ?? Number.MAX_SAFE_INTEGER) * 10_000 + (problem.column ?? 0);
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => key(a.problem) - key(b.problem) || a.index - b.index)
    .map(({ problem }) => problem);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Freezes `value` and everything it holds, so no module can change the config after start-up. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
