/** The Python reference decryptor of docs/backup-format.md, as the suite runs it: taken from the doc itself. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Python that has `cryptography` (moto brings it into the project's .venv). */
export async function pythonWithCryptography(): Promise<string | undefined> {
  for (const candidate of [path.resolve('.venv/bin/python'), 'python3']) {
    if (
      await run(candidate, ['-c', 'import cryptography']).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

/** Writes the doc's ```python block to `dir/hsb_decrypt.py`; returns its path. */
export async function extractReferenceDecryptor(dir: string): Promise<string> {
  const doc = await readFile(path.resolve('docs/backup-format.md'), 'utf8');
  const block = /```python\n([\s\S]*?)\n```/.exec(doc)?.[1];
  assert.ok(block, 'docs/backup-format.md holds the reference decryptor');
  const script = path.join(dir, 'hsb_decrypt.py');
  await writeFile(script, block);
  return script;
}

/** Runs the decryptor on `file` into `out`, refusing anything but `expected`; returns its stderr. */
export async function runReferenceDecryptor(
  decryptor: { python: string; script: string; keyFile: string },
  file: string,
  out: string,
  expected: string,
): Promise<string> {
  const { stderr } = await run(decryptor.python, [decryptor.script, file, decryptor.keyFile, out, expected]);
  return stderr;
}
