export * from './errors.ts';
export * from './redact.ts';
export * from './logger.ts';
export * from './names.ts';
export * from './clock.ts';
export * from './stats.ts';
export * from './atomic-file.ts';
export * from './process-identity.ts';
