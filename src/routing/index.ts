export * from './match.ts';
export * from './workflow-labels.ts';
