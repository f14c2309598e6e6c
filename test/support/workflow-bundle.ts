import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { workflowsPath } from '../../worker/create-worker.ts';

const DAY_MS = 86_400_000;
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** Every folder the workflow bundle can draw code from: a change in any of them makes a new bundle. */
const BUNDLE_SOURCES = ['workflows', 'activities', 'lib', 'temporal', 'services', 'worker'];
const bundleCache = path.join(tmpdir(), 'hindsight-workflow-bundles');

/**
 * The workflow bundle, built by webpack once per state of the sources and shared by every test
 * file of a run (workflow, replay and integration tests alike): bundling costs seconds of CPU, and
 * a run has dozens of workers. It is keyed by the content of every source folder and the lock file,
 * so a changed workflow is never replayed from a stale bundle. A bundle unused for a day is removed.
 */
export async function cachedWorkflowBundle(failureConverterPath: string | undefined): Promise<{ codePath: string }> {
  const hash = createHash('sha256').update(failureConverterPath ?? '');
  hash.update(await readFile(path.join(repoRoot, 'package-lock.json')));
  for (const dir of BUNDLE_SOURCES) {
    const listed = await readdir(path.join(repoRoot, dir), { recursive: true });
    const files = listed.filter((f) => f.endsWith('.ts')).sort();
    for (const file of files) hash.update(`${dir}/${file}\0`).update(await readFile(path.join(repoRoot, dir, file)));
  }
  const codePath = path.join(bundleCache, `${hash.digest('hex').slice(0, 40)}.js`);
  if (existsSync(codePath)) return { codePath };
  const { code } = await bundleWorkflowCode({ workflowsPath, failureConverterPath, logger: new DefaultLogger('WARN') });
  await mkdir(bundleCache, { recursive: true });
  for (const old of await readdir(bundleCache)) {
    const file = path.join(bundleCache, old);
    const unused = await stat(file).then(
      (s) => Date.now() - s.atimeMs > DAY_MS,
      () => false,
    );
    if (unused) await rm(file, { force: true });
  }
  // Written aside and renamed: a test file starting at the same time never reads half a bundle.
  const partial = `${codePath}.${process.pid}`;
  await writeFile(partial, code);
  await rename(partial, codePath);
  return { codePath };
}
