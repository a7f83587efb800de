import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { ConfigProblem } from './problems.ts';

/**
 * A parsed YAML file that remembers where every node came from, so a schema problem at
 * `pools[0].max` can be reported at its line and column.
 */
export interface YamlSource {
  /** The document as plain data (`undefined` for an empty file). */
  data: unknown;
  /** Syntax errors, each with its position. */
  problems: ConfigProblem[];
  /** The 1-based position of the value at `path`, or of its nearest ancestor present in the file. */
  locate(path: readonly PropertyKey[], options?: { preferKey?: boolean }): { line: number; column: number } | undefined;
}

/** Parses YAML text; syntax errors are returned as problems, never thrown. */
export function parseYamlSource(text: string): YamlSource {
  // One LineCounter per parse: it accumulates line starts across documents.
  const lineCounter = new LineCounter();
  // prettyErrors off: the message stays one line, the position comes from the LineCounter.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const problems: ConfigProblem[] = doc.errors.map((error) => ({
    path: '',
    message: `YAML ${error.code}: ${error.message}`,
    ...position(error.pos[0]),
  }));
  let data: unknown;
  if (problems.length === 0) {
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      problems.push({ path: '', message: `YAML: ${(err as Error).message}`, line: 1, column: 1 });
    }
  }
  return {
    data,
    problems,
    locate(path, options = {}) {
      const found = findNode(doc, path, options.preferKey ?? false);
      return found?.range ? position(found.range[0]) : undefined;
    },
  };
}

/** Walks `path` as far as the file goes; returns the deepest node reached. */
function findNode(doc: Document, path: readonly PropertyKey[], preferKey: boolean): Node | undefined {
  let node: Node | undefined = resolve(doc, doc.contents);
  if (!node) return undefined;
  for (let depth = 0; depth < path.length; depth++) {
    const segment = path[depth];
    const isLast = depth === path.length - 1;
    let next: Node | undefined;
    if (isMap(node)) {
      const pair: Pair | undefined = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair && isLast && preferKey && isScalar(pair.key)) return pair.key;
      next = pair ? (resolve(doc, pair.value) ?? (isScalar(pair.key) ? pair.key : undefined)) : undefined;
    } else if (isSeq(node) && typeof segment === 'number') {
      next = resolve(doc, node.items[segment]);
    }
    if (!next) return node;
    node = next;
  }
  return node;
}

function resolve(doc: Document, value: unknown): Node | undefined {
  if (isAlias(value)) return (value.resolve(doc) as Node | undefined) ?? value;
  return isMap(value) || isSeq(value) || isScalar(value) ? value : undefined;
}
