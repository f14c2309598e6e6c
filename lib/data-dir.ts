/**
 * The data directory (HINDSIGHT_DATA_DIR): the secret key, the keys of earlier rotations, the
 * embedded catalog and its password, the Temporal dev server's database, the local storage, and
 * the default restore root `restores/`.
 *
 * Two other OS users must pass through it: `postgres`, which runs the embedded catalog in
 * `meta/`, and the sandbox user, which runs a restored server in a directory under `restores/`.
 * So the directory is 0711: others may traverse it to a path they know, but not list it; and
 * everything in it except `restores/` is closed to group and others (files 0600, directories
 * 0700), so that traversal reaches nothing else: the key is protected by its own mode and by no
 * one being able to open it, as before, not by the directory's. `restores/` is 0711 as well: a
 * restore creates its directory there as root and hands it to the sandbox user (lib/pitr/extract.ts).
 */
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { HindsightError } from './errors.ts';
import { resolveThroughExisting } from './pitr/restore-root.ts';

/** Traverse only, no listing, for group and others. */
export const DATA_DIR_MODE = 0o711;

/** The one entry of the data directory that other users reach into. */
export const RESTORES_ENTRY = 'restores';

/** The default restore root of an installation (lib/config.ts). */
export const defaultRestoreRoot = (dataDir: string): string => path.join(dataDir, RESTORES_ENTRY);

const OPEN_TO_OTHERS = 0o077;

/**
 * Closes every entry of the data directory but `restores/` to group and others (symbolic links
 * are left alone: their mode means nothing). An entry of another owner that cannot be closed is
 * refused by name rather than left reachable.
 */
export async function closeDataDirEntries(dataDir: string): Promise<void> {
  for (const name of await readdir(dataDir)) {
    if (name === RESTORES_ENTRY) continue;
    const entry = path.join(dataDir, name);
    const info = await lstat(entry).catch(() => undefined);
    if (!info || info.isSymbolicLink() || (info.mode & OPEN_TO_OTHERS) === 0) continue;
    await chmod(entry, info.mode & 0o7700 & ~OPEN_TO_OTHERS).catch((error: NodeJS.ErrnoException) => {
      throw new HindsightError(
        'access_denied',
        `${entry} is open to other users and cannot be closed by this user (${error.code}): chmod go-rwx it, since ${dataDir} lets other users reach what it holds`,
        { cause: error },
      );
    });
  }
}

/**
 * Makes the data directory and its restore root, or brings existing ones to their modes: the
 * entries are closed first, so that opening the directory to traversal never exposes one of them.
 */
export async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await closeDataDirEntries(dataDir);
  await mkdir(defaultRestoreRoot(dataDir), { mode: DATA_DIR_MODE }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  await setMode(defaultRestoreRoot(dataDir), DATA_DIR_MODE);
  await setMode(dataDir, DATA_DIR_MODE);
}

/** Sets a directory's permission bits when they differ (a mode mkdir's umask may have narrowed, or an older layout's). */
async function setMode(dir: string, mode: number): Promise<void> {
  const info = await lstat(dir);
  if ((info.mode & 0o777) !== mode) await chmod(dir, (info.mode & 0o7000) | mode);
}

/**
 * Prepares the data directory when a restore goes under its restore root (`restoreDir` is a real
 * path, as confineRestoreDirectory returns it); any other directory is the operator's.
 */
export async function prepareDataDirFor(restoreDir: string, dataDir: string): Promise<void> {
  const root = defaultRestoreRoot(await resolveThroughExisting(dataDir));
  if (restoreDir.startsWith(`${root}${path.sep}`)) await prepareDataDir(dataDir);
}
