export * from './types.ts';
export { ProcessProvider, fillPlaceholders, tailFile, type ProcessProviderOptions } from './process-provider.ts';
export { MemoryProvider } from './memory-provider.ts';
export { createProvider } from './create-provider.ts';
