import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { JitpoolError } from '../core/index.ts';

/**
 * The files `entry` needs at run time: its relative value imports followed recursively (`import
 * type` is erased by type stripping and needs no file), as paths relative to `root`, sorted. A
 * bare package import is refused: an image has no node_modules. The same walk as
 * scripts/build-test-image.sh does for the Docker test image.
 */
export function sourceClosure(entry: string, root: string): string[] {
  const seen = new Set<string>();
  const todo = [resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^\s*(import|export)\s+(?!type\s)([^;]*?\sfrom\s+)?["']([^"']+)["']/gm)) {
      const spec = match[3]!;
      if (spec.startsWith('node:')) continue;
      if (!spec.startsWith('.')) throw new JitpoolError('JP_INTERNAL', `${relative(root, file)} imports package ${spec}; an image has no node_modules`);
      todo.push(join(dirname(file), spec));
    }
  }
  return [...seen].map((file) => relative(root, file)).sort();
}
