import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isJitpoolError } from '../core/index.ts';
import { formatFinding, lintWorkflow, minimalLabelSet, parseLabelPolicy } from './index.ts';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures');
const policy = parseLabelPolicy(readFileSync(join(FIXTURES, 'label_policy.json'), 'utf8'), 'label_policy.json');
const lint = (name: string, withPolicy = true) => lintWorkflow(readFileSync(join(FIXTURES, 'workflows', name), 'utf8'), name, withPolicy ? policy : null);
const brief = (findings: ReturnType<typeof lint>) => findings.map((f) => [f.job, f.line, f.rule]);

describe('label lint', () => {
  it('runs-on as a string: checked against the policy', () => {
    assert.deepEqual(brief(lint('string.yml')), [['build', 5, 'missing-base-label']]);
  });

  it('runs-on as a list (flow and block): a label outside the policy is reported on its own line', () => {
    assert.deepEqual(brief(lint('list.yml')), [['gpu', 12, 'not-allowed']]);
    assert.match(formatFinding(lint('list.yml')[0]!), /^list\.yml:12:9: error: jobs\.gpu: label "gpu-a100" is not in the policy's allowed_labels \[not-allowed\]$/);
  });

  it('runs-on as a { group, labels } object, a group alone, and labels as a string', () => {
    assert.deepEqual(brief(lint('group.yml')), [['group-only', 11, 'missing-base-label'], ['single-label', 14, 'missing-base-label']]);
  });

  it('matrix and expressions are reported as unresolvable warnings, literal labels beside them still checked', () => {
    const findings = lint('matrix.yml');
    assert.deepEqual(brief(findings), [['test', 8, 'unresolvable'], ['mixed', 11, 'unresolvable']]);
    assert.ok(findings.every((f) => f.severity === 'warning'));
  });

  it('GitHub-hosted targets and reusable-workflow calls are not checked', () => {
    assert.deepEqual(lint('hosted.yaml'), []);
  });

  it('malformed runs-on values are errors, with or without a policy', () => {
    assert.deepEqual(brief(lint('invalid.yml', false)), [['empty', 5, 'invalid-runs-on'], ['number', 8, 'invalid-runs-on'], ['weird', 11, 'invalid-runs-on']]);
  });

  it('YAML errors are findings with a line', () => {
    const findings = lintWorkflow('jobs:\n  a:\n    runs-on: [x\n', 'bad.yml', null);
    assert.equal(findings[0]?.rule, 'yaml');
  });

  it('refuses a malformed policy naming the field', () => {
    assert.throws(() => parseLabelPolicy('{"allowed_labels": "linux"}', 'p.json'), (err) => isJitpoolError(err, 'JP_INPUT_INVALID') && /allowed_labels/.test(err.message));
    assert.throws(() => parseLabelPolicy('nope', 'p.json'), (err) => isJitpoolError(err, 'JP_INPUT_INVALID'));
  });
});

describe('minimalLabelSet', () => {
  it('is the union of the queued jobs\' labels, case-insensitively, with distinct sets counted', () => {
    const result = minimalLabelSet([{ labels: ['self-hosted', 'Linux'] }, { labels: ['self-hosted', 'linux', 'gpu'] }, { labels: ['linux', 'self-hosted'] }]);
    assert.deepEqual(result.labels, ['self-hosted', 'Linux', 'gpu']);
    assert.equal(result.source, 'queue');
    assert.deepEqual(result.labelSets.map((s) => s.jobs), [2, 1]);
  });

  it('falls back when nothing is queued', () => {
    assert.deepEqual(minimalLabelSet([], ['linux', 'x64', 'codex']), { labels: ['linux', 'x64', 'codex'], source: 'fallback', labelSets: [], queuedJobs: 0 });
  });
});
