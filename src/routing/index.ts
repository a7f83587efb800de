export * from './match.ts';
export * from './workflow-labels.ts';
export { DEFAULT_FALLBACK_LABELS, minimalLabelSet, type LabelSetDemand, type MinimalLabelSet } from './label-sets.ts';
export { formatFinding, lintWorkflow, parseLabelPolicy, type LabelPolicy, type LintFinding } from './label-lint.ts';
export * from './policy.ts';
export * from './decide-route.ts';
export * from './runner-group-access.ts';
