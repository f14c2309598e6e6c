import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sourceFiles, withoutComments } from '../support/source-scan.ts';

/** lib/ is the domain and its adapters: it may not reach up into the layers that use it, nor know Temporal. */
const UPPER_LAYERS = ['activities', 'cli', 'scripts', 'services', 'temporal', 'web', 'worker', 'workflows'];

const specifiers = (source: string): string[] =>
  [...withoutComments(source).matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"]+)['"]/g)].map(
    (m) => m[1]!,
  );

describe('layering', () => {
  it('lets nothing under lib/ import temporal/, services/, activities/ or another upper layer', async () => {
    const files = await sourceFiles('.', ['lib']);
    assert.ok(files.length > 50, `found ${files.length} files under lib/`);
    const problems: string[] = [];
    let relative = 0;
    for (const file of files) {
      for (const spec of specifiers(await readFile(file, 'utf8'))) {
        if (spec.startsWith('@temporalio/')) problems.push(`${file} imports ${spec}`);
        if (!spec.startsWith('.')) continue;
        relative += 1;
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
        const top = target.split('/')[0]!;
        if (UPPER_LAYERS.includes(top)) problems.push(`${file} imports ${spec} (${target})`);
      }
    }
    assert.ok(relative > 100, `read ${relative} relative imports`);
    assert.deepEqual(problems, []);
  });

  it('reads the imports this check depends on', () => {
    const source =
      "import type { A } from '../../temporal/x.ts';\nexport { b } from './b.ts';\nconst c = await import('../services/c.ts');\nimport './side.ts';";
    assert.deepEqual(specifiers(source), ['../../temporal/x.ts', './b.ts', '../services/c.ts', './side.ts']);
  });
});
