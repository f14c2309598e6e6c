import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** The production tree: what ships, as opposed to tests, docs and build output. */
export const PRODUCTION_DIRS = [
  'activities',
  'bin',
  'cli',
  'lib',
  'scripts',
  'services',
  'temporal',
  'web',
  'worker',
  'workflows',
];
const SKIPPED_DIRS = new Set(['node_modules', '.svelte-kit', 'build', 'dist']);
const SOURCE = /\.(ts|js|mjs|svelte)$/;

/** Every source file under `dirs`, as a path relative to the repository root with "/" separators. */
export async function sourceFiles(root: string, dirs: string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(path.join(root, dir), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) await walk(rel);
      } else if (SOURCE.test(entry.name)) {
        found.push(rel);
      }
    }
  };
  for (const dir of dirs) await walk(dir);
  return found.sort();
}

/**
 * Source without its comments, line numbers kept: prose may mention a workflow by name. Rough on
 * purpose: a "//" inside a string (a URL) drops the rest of that line, which can only hide a match.
 */
export function withoutComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

export interface Hit {
  file: string;
  line: number;
  text: string;
}

/** Lines of `files` (comments removed) that match `pattern`. */
export async function findInSources(root: string, files: string[], pattern: RegExp): Promise<Hit[]> {
  const hits: Hit[] = [];
  for (const file of files) {
    const lines = withoutComments(await readFile(path.join(root, file), 'utf8')).split('\n');
    lines.forEach((text, i) => {
      if (pattern.test(text)) hits.push({ file, line: i + 1, text: text.trim() });
    });
  }
  return hits;
}

/**
 * Files allowed a known number of hits while their owners move them over. A file with more hits
 * fails; a file with fewer fails too, so that the allowance is removed once it is no longer needed.
 */
export function unexpectedHits(hits: Hit[], pending: ReadonlyMap<string, number>): string[] {
  const byFile = new Map<string, Hit[]>();
  for (const hit of hits) byFile.set(hit.file, [...(byFile.get(hit.file) ?? []), hit]);
  const problems: string[] = [];
  for (const [file, fileHits] of byFile) {
    const allowed = pending.get(file) ?? 0;
    if (fileHits.length > allowed) problems.push(...fileHits.map((h) => `${h.file}:${h.line}: ${h.text}`));
  }
  for (const [file, allowed] of pending) {
    const count = byFile.get(file)?.length ?? 0;
    if (count < allowed)
      problems.push(`${file}: ${allowed} pending hit(s) allowed, ${count} left: lower or remove its allowance`);
  }
  return problems;
}
