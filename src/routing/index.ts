export * from './match.ts';
export * from './policy.ts';
export * from './decide-route.ts';
