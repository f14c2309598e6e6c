import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PRODUCTION_DIRS, sourceFiles, withoutComments } from '../support/source-scan.ts';

/*
 * Modules that import each other can only be understood together, and their load order decides which one sees the
 * other half-initialised. Type-only imports count too: a cycle of types is the same knot for a reader.
 */

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g;

/** The console's `#lib/…` alias (web/package.json "imports") points into web/src/lib. */
function resolve(from: string, spec: string): string | null {
  let target: string;
  if (spec.startsWith('.')) target = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  else if (spec.startsWith('#lib/')) target = `web/src/lib/${spec.slice('#lib/'.length)}`;
  else return null;
  for (const candidate of [target, `${target}.ts`, `${target}/index.ts`]) {
    if (existsSync(candidate) && /\.(ts|svelte|js|mjs)$/.test(candidate)) return candidate;
  }
  return null;
}

async function importGraph(files: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const specs = [...withoutComments(await readFile(file, 'utf8')).matchAll(IMPORT)].map((m) => m[1]!);
    graph.set(
      file,
      specs.map((spec) => resolve(file, spec)).filter((t): t is string => t !== null),
    );
  }
  return graph;
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('import cycles', () => {
  it('finds none among the production modules', async () => {
    const files = await sourceFiles('.', PRODUCTION_DIRS);
    const graph = await importGraph(files);
    const edges = [...graph.values()].reduce((n, targets) => n + targets.length, 0);
    assert.ok(edges > 500, `resolved ${edges} imports between ${files.length} files`);
    assert.deepEqual(cycles(graph), []);
  });

  it('reports a cycle through three modules and a module importing itself, and nothing for a chain', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['e']],
      ['f', ['d']],
    ]);
    assert.deepEqual(cycles(graph), [['a', 'b', 'c'], ['e']]);
  });
});
