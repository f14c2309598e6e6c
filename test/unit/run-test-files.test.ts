/**
 * scripts/run-test-files.ts, the runner behind scripts/run-tests.ts, on small test files of its own: it runs them in
 * the order given (`node --test` sorts them by name, which undid the longest-first order of the integration files),
 * prints each file's wall time with --timed, and exits 1 when a test fails.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

const runner = path.resolve('scripts/run-test-files.ts');

/** The runner's stdout and exit code. */
async function runFiles(args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    // Without the variable this file's own runner sets, or the runner would take itself for a test file's process.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const { stdout } = await promisify(execFile)(process.execPath, [runner, ...args], { env });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe('the test file runner', () => {
  let dir = '';
  const file = (name: string) => path.join(dir, name);

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'run-test-files-'));
    const passing = (name: string) => `import { it } from 'node:test';\nit('${name}', () => {});\n`;
    await writeFile(file('a.test.mjs'), passing('from a'));
    await writeFile(file('z.test.mjs'), passing('from z'));
    await writeFile(file('fails.test.mjs'), `import { it } from 'node:test';\nit('breaks', () => { throw 1; });\n`);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the files in the order given, not by name, and prints their wall times', async () => {
    const { code, stdout } = await runFiles(['1', '--timed', file('z.test.mjs'), file('a.test.mjs')]);
    assert.equal(code, 0, stdout);
    const ran = stdout.split('\n').filter((l) => /✔ from [az]/.test(l));
    assert.deepEqual(
      ran.map((l) => l.replace(/^.*✔ (from [az]).*$/, '$1')),
      ['from z', 'from a'],
    );
    assert.match(stdout, /wall time of each file \(2 files\)/);
    assert.match(stdout, /2 tests: 2 passed, 0 failed/);
  });

  it('exits 1 when a test fails, and prints no times without --timed', async () => {
    const { code, stdout } = await runFiles(['2', file('a.test.mjs'), file('fails.test.mjs')]);
    assert.equal(code, 1, stdout);
    assert.match(stdout, /✖ breaks/);
    assert.doesNotMatch(stdout, /wall time of each file/);
  });
});
