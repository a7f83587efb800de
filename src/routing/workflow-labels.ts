import { parseDocument } from 'yaml';

/** The `runs-on` of one workflow job: its labels, or why they cannot be known statically. */
export type RunsOn = { kind: 'labels'; labels: string[]; group: string | null } | { kind: 'unresolvable'; reason: string };

/**
 * Reads the `runs-on` of every job of a workflow file. Handles the string, list and
 * `{ group, labels }` forms; anything holding an expression (`${{ matrix.os }}`) is reported
 * as unresolvable. Invalid YAML yields an empty list (a broken workflow runs nothing).
 */
export function workflowRunsOn(text: string): RunsOn[] {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) return [];
  const root = doc.toJS() as unknown;
  const jobs = isRecord(root) && isRecord(root.jobs) ? root.jobs : {};
  return Object.values(jobs).filter(isRecord).map((job) => runsOnOf(job['runs-on']));
}

/** One job's `runs-on` value, in any of its forms. */
export function runsOnOf(value: unknown): RunsOn {
  if (value === undefined || value === null) return { kind: 'unresolvable', reason: 'no runs-on (a reusable workflow call?)' };
  if (typeof value === 'string') return labelsOrExpression([value], null);
  if (Array.isArray(value)) {
    if (!value.every((item) => typeof item === 'string')) return { kind: 'unresolvable', reason: 'runs-on list holds a non-string' };
    return labelsOrExpression(value as string[], null);
  }
  if (isRecord(value)) {
    const group = typeof value.group === 'string' ? value.group : null;
    const labels = value.labels === undefined ? [] : typeof value.labels === 'string' ? [value.labels] : value.labels;
    if (!Array.isArray(labels) || !labels.every((item) => typeof item === 'string')) return { kind: 'unresolvable', reason: 'runs-on labels are not strings' };
    if (group !== null && group.includes('${{')) return { kind: 'unresolvable', reason: 'runs-on group is an expression' };
    return labelsOrExpression(labels as string[], group);
  }
  return { kind: 'unresolvable', reason: `runs-on of type ${typeof value}` };
}

function labelsOrExpression(labels: string[], group: string | null): RunsOn {
  const expression = labels.find((label) => label.includes('${{'));
  if (expression !== undefined) return { kind: 'unresolvable', reason: `runs-on uses an expression: ${expression}` };
  return { kind: 'labels', labels, group };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
