import { z } from 'zod';
import { configSchema } from './schema.ts';

/**
 * The JSON Schema of `jitpool.yaml` (draft 2020-12), for editors (`# yaml-language-server:
 * $schema=…`) and for tools. It describes the *input*: fields with defaults are optional.
 * Refinements the JSON Schema cannot express (safe names, minIdle ≤ max, unique pool names) are
 * checked only by `jitpool config check`.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'jitpool.yaml', description: 'Configuration of jitpool, the ephemeral GitHub Actions runner controller.' };
}
