/**
 * Where a point-in-time restore goes: a fresh sandbox, or a directory inside the restore roots,
 * made empty and handed to the server's user before anything is extracted.
 */
import { access, chmod, mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../lib/config.ts';
import { prepareDataDirFor } from '../lib/data-dir.ts';
import { HindsightError } from '../lib/errors.ts';
import { prepareDataDirectory } from '../lib/pitr/extract.ts';
import { handToServerUser, runningAsRoot, serverUserCanEnter } from '../lib/pitr/os-user.ts';
import { recoveryServer } from '../lib/pitr/recover.ts';
import { confineRestoreDirectory } from '../lib/pitr/restore-root.ts';
import type { PitrDestination } from '../temporal/contracts/pitr.ts';

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** What choosing a destination needs of the restore's dependencies (PitrDeps). */
export interface DestinationDeps {
  budget?: { sandboxRoot: string };
  restoreRoots?: readonly string[];
}

/**
 * `<sandbox root>/pitr-<id>`, owned by the server's user. The sandbox root is Hindsight's own and
 * must be traversable by that user (docs/configuration.md: HINDSIGHT_SANDBOX_ROOT); a root-owned one made 0700 by
 * another part of the worker is opened to traversal (o+x, no listing) rather than failing.
 */
async function prepareSandboxDir(sandboxDir: string): Promise<void> {
  const root = path.dirname(sandboxDir);
  await mkdir(root, { recursive: true, mode: 0o711 });
  if (!(await serverUserCanEnter(root)) && runningAsRoot()) {
    const info = await stat(root);
    if (info.uid === 0) await chmod(root, (info.mode & 0o777) | 0o011);
  }
  await mkdir(sandboxDir, { mode: 0o700 });
  await handToServerUser(sandboxDir);
}

/** Where a restore goes: a fresh sandbox, or a directory inside the restore roots, made empty and ready. */
export async function prepareDestination(
  deps: DestinationDeps,
  input: { restoreId: string; to: PitrDestination },
): Promise<{ sandboxDir: string | null; dataDir: string }> {
  const stopLeftover = (dataDir: string) => async () => {
    if (await exists(path.join(dataDir, 'PG_VERSION'))) await (await recoveryServer(dataDir, 0)).stop('immediate');
  };
  // An extraction into another server recovers in a sandbox too.
  if (!('directory' in input.to)) {
    const sandboxDir = path.join(
      deps.budget?.sandboxRoot ?? path.join(os.tmpdir(), 'hindsight-sandboxes'),
      input.restoreId,
    );
    await prepareSandboxDir(sandboxDir);
    const dataDir = path.join(sandboxDir, 'data');
    await prepareDataDirectory(dataDir, input.restoreId, stopLeftover(dataDir));
    return { sandboxDir, dataDir };
  }
  const config = deps.restoreRoots ? undefined : loadConfig(process.env);
  const roots = deps.restoreRoots ?? config!.restoreRoots;
  const dataDir = await confineRestoreDirectory(input.to.directory, roots);
  // The default root is inside the private data directory: the sandbox user must be able to pass through it.
  if (config) await prepareDataDirFor(dataDir, config.dataDir);
  await prepareDataDirectory(dataDir, input.restoreId, stopLeftover(dataDir));
  // Made now, the directory must still be where it was checked (no parent swapped for a link meanwhile).
  if ((await confineRestoreDirectory(dataDir, roots)) !== dataDir) {
    throw new HindsightError(
      'bad_input',
      `restore directory ${dataDir} moved while it was being made: restore under a root that only trusted users can write to`,
    );
  }
  return { sandboxDir: null, dataDir };
}
