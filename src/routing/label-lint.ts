import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { z } from 'zod';
import { JitpoolError, normalizeLabel } from '../core/index.ts';

/**
 * The label policy (seed 000's `tools/label_policy.json`): which labels self-hosted jobs may ask
 * for, and which base labels every one of them must carry. Documented in docs/label-policy.md.
 */
export interface LabelPolicy {
  allowedLabels: string[];
  requiredBaseLabels: string[];
}

const policyFile = z
  .object({
    allowed_labels: z.array(z.string().min(1)).default([]),
    required_base_labels: z.array(z.string().min(1)).default([]),
  })
  .loose();

/** Parses a policy file; throws `JP_INPUT_INVALID` naming the file and the field. */
export function parseLabelPolicy(text: string, file: string): LabelPolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new JitpoolError('JP_INPUT_INVALID', `${file}: not JSON`);
  }
  const parsed = policyFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new JitpoolError('JP_INPUT_INVALID', `${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return { allowedLabels: parsed.data.allowed_labels, requiredBaseLabels: parsed.data.required_base_labels };
}

/** One finding, located at the `runs-on` value (or label) it is about. */
export interface LintFinding {
  file: string;
  line: number;
  column: number;
  job: string | null;
  severity: 'error' | 'warning';
  rule: 'yaml' | 'invalid-runs-on' | 'unresolvable' | 'not-allowed' | 'missing-base-label';
  message: string;
}

/** A job's `runs-on`, as far as it can be known without running the workflow. */
interface RunsOn {
  labels: string[];
  group: string | null;
  unresolvable: string[];
}

const HOSTED = /^(ubuntu|windows|macos)-[a-z0-9.-]+$/i;
const EXPRESSION = /\$\{\{/;

/** True when `runs-on` targets self-hosted runners (a `self-hosted` label, a group, or a label GitHub does not host). */
function isSelfHostedTarget(runsOn: RunsOn): boolean {
  if (runsOn.group !== null) return true;
  if (runsOn.labels.some((label) => normalizeLabel(label) === 'self-hosted')) return true;
  return runsOn.labels.some((label) => !HOSTED.test(label));
}

/**
 * Lints one workflow file's `runs-on` values: a string, a list, or a `{ group, labels }` object.
 * Expressions (`${{ matrix.os }}`) cannot be resolved statically and are reported as warnings.
 * With a policy, every self-hosted target must carry the required base labels and ask only for
 * allowed ones; GitHub-hosted targets (`ubuntu-latest`, …) are not checked.
 */
export function lintWorkflow(text: string, file: string, policy: LabelPolicy | null): LintFinding[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const at = (node: Node | null | undefined, job: string | null) => {
    const pos = lineCounter.linePos(node?.range?.[0] ?? 0);
    return { file, line: pos.line, column: pos.col, job };
  };
  const findings: LintFinding[] = [];
  for (const error of doc.errors) {
    const pos = error.linePos?.[0] ?? { line: 1, col: 1 };
    findings.push({ file, line: pos.line, column: pos.col, job: null, severity: 'error', rule: 'yaml', message: error.message.split('\n')[0] ?? 'YAML error' });
  }
  if (doc.errors.length > 0) return findings;
  const jobs = doc.get('jobs', true);
  if (!isMap(jobs)) return findings;
  for (const pair of jobs.items) {
    const job = isScalar(pair.key) ? String(pair.key.value) : '?';
    if (!isMap(pair.value)) continue;
    const node = pair.value.get('runs-on', true) as Node | undefined;
    if (node === undefined) continue; // a reusable workflow call (`uses:`) has no runs-on
    const runsOn = readRunsOn(node, (n, message) => findings.push({ ...at(n, job), severity: 'error', rule: 'invalid-runs-on', message }));
    if (runsOn === null) continue;
    for (const expression of runsOn.unresolvable) {
      findings.push({ ...at(node, job), severity: 'warning', rule: 'unresolvable', message: `runs-on ${expression} is an expression (matrix or context) and cannot be checked statically` });
    }
    if (!policy || !isSelfHostedTarget(runsOn)) continue;
    const have = new Set(runsOn.labels.map(normalizeLabel));
    const missing = policy.requiredBaseLabels.filter((label) => !have.has(normalizeLabel(label)));
    if (missing.length > 0 && runsOn.unresolvable.length === 0) {
      findings.push({ ...at(node, job), severity: 'error', rule: 'missing-base-label', message: `self-hosted job lacks required base label(s) ${missing.join(', ')}` });
    }
    const allowed = new Set([...policy.allowedLabels, ...policy.requiredBaseLabels].map(normalizeLabel));
    for (const label of runsOn.labels) {
      if (!allowed.has(normalizeLabel(label))) {
        findings.push({ ...at(labelNode(node, label) ?? node, job), severity: 'error', rule: 'not-allowed', message: `label "${label}" is not in the policy's allowed_labels` });
      }
    }
  }
  return findings;
}

/** Reads a `runs-on` node; reports malformed shapes through `problem` and returns null for them. */
function readRunsOn(node: Node, problem: (node: Node, message: string) => void): RunsOn | null {
  const out: RunsOn = { labels: [], group: null, unresolvable: [] };
  const addLabel = (value: Node): boolean => {
    if (!isScalar(value) || typeof value.value !== 'string' || value.value.trim() === '') {
      problem(value, 'runs-on labels must be non-empty strings');
      return false;
    }
    if (EXPRESSION.test(value.value)) out.unresolvable.push(value.value);
    else out.labels.push(value.value);
    return true;
  };
  if (isScalar(node)) return addLabel(node) ? out : null;
  if (isSeq(node)) {
    if (node.items.length === 0) {
      problem(node, 'runs-on is an empty list');
      return null;
    }
    return node.items.every((item) => addLabel(item as Node)) ? out : null;
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const value = pair.value as Node | null;
      if (key === 'group' && isScalar(value) && typeof value.value === 'string') {
        if (EXPRESSION.test(value.value)) out.unresolvable.push(value.value);
        else out.group = value.value;
      } else if (key === 'labels' && value !== null && (isScalar(value) || isSeq(value))) {
        const items = isSeq(value) ? (value.items as Node[]) : [value];
        if (!items.every(addLabel)) return null;
      } else {
        problem(value ?? node, `runs-on: unexpected key "${key}" (expected group and/or labels)`);
        return null;
      }
    }
    if (out.group === null && out.labels.length === 0 && out.unresolvable.length === 0) {
      problem(node, 'runs-on object needs group or labels');
      return null;
    }
    return out;
  }
  problem(node, 'runs-on must be a string, a list of labels or a { group, labels } object');
  return null;
}

/** The node of one label inside a runs-on list or object, for a precise line. */
function labelNode(node: Node, label: string): Node | undefined {
  const items: unknown[] = isSeq(node) ? node.items : isMap(node) ? ((): unknown[] => {
    const labels = node.get('labels', true) as Node | undefined;
    return labels && isSeq(labels) ? labels.items : labels ? [labels] : [];
  })() : [];
  return items.find((item): item is Node => isScalar(item) && item.value === label);
}

/** `file:line:col: severity: message [rule]`, the format editors and CI annotate. */
export function formatFinding(finding: LintFinding): string {
  return `${finding.file}:${finding.line}:${finding.column}: ${finding.severity}: ${finding.job ? `jobs.${finding.job}: ` : ''}${finding.message} [${finding.rule}]`;
}
