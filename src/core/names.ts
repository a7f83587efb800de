import { randomBytes } from 'node:crypto';
import { JitpoolError } from './errors.ts';

/**
 * Validation for every name that comes from outside (webhooks, the API, config) before it can
 * reach a shell, a path or a provider. Conservative on purpose: GitHub accepts more, jitpool
 * refuses what it cannot use safely.
 */

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}$/;
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
/** A leading dash is refused: such a name could read as an option where it reaches an argv. */
const REPO = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,99}$/;
const POOL = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const CONTROLLER_ID = /^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$/;
const RUNNER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** True when `label` is a runner label jitpool can pass to GitHub and to a provider. */
export function isSafeLabel(label: string): boolean {
  return LABEL.test(label);
}

/** True for a GitHub owner (user or organisation) login. */
export function isSafeOwner(owner: string): boolean {
  return OWNER.test(owner);
}

/** True for a repository name; `.` and `..` are refused (path traversal). */
export function isSafeRepo(repo: string): boolean {
  return REPO.test(repo) && repo !== '.' && repo !== '..';
}

/** True for a pool name (lowercase, digits, dashes; it becomes part of runner and container names). */
export function isSafePoolName(name: string): boolean {
  return POOL.test(name);
}

/** True for a controller id (it becomes the `jitpool-<id>` label and provider labels). */
export function isSafeControllerId(id: string): boolean {
  return CONTROLLER_ID.test(id);
}

/** True for a runner name jitpool could have made, or GitHub could report, that is safe in a path. */
export function isSafeRunnerName(name: string): boolean {
  return RUNNER_NAME.test(name);
}

/** Throws `JP_INPUT_INVALID` unless every label is safe. */
export function assertSafeLabels(labels: readonly string[], where: string): void {
  const bad = labels.filter((label) => !isSafeLabel(label));
  if (bad.length > 0) {
    throw new JitpoolError('JP_INPUT_INVALID', `${where}: unsafe label(s) ${JSON.stringify(bad.map((b) => b.slice(0, 40)))}`);
  }
}

/**
 * A short random id (lowercase hex), used for runner ids. 48 bits by default: a daemon that
 * launches 10,000 runners a day keeps two weeks of them in the store (names are unique there and
 * at GitHub), and 32 bits would collide every few days at that rate (birthday bound).
 */
export function shortId(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}

/** The label every runner of a controller carries, so everything it owns is findable. */
export function controllerLabel(controllerId: string): string {
  return `jitpool-${controllerId}`;
}

/** `jp-<pool>-<short id>`, the name of a runner at GitHub and of its compute. */
export function runnerName(pool: string, id: string): string {
  return `jp-${pool}-${id}`;
}

/** Labels compared the way GitHub compares them: case-insensitively. */
export function normalizeLabel(label: string): string {
  return label.toLowerCase();
}

/** True when a runner with `runnerLabels` can take a job asking for `jobLabels` (GitHub's rule: ⊇, case-insensitive). */
export function labelsSatisfy(runnerLabels: readonly string[], jobLabels: readonly string[]): boolean {
  const have = new Set(runnerLabels.map(normalizeLabel));
  return jobLabels.every((label) => have.has(normalizeLabel(label)));
}
