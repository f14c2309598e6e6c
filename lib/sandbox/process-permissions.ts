import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { HindsightError, errorMessage } from '../errors.ts';
import type { ServerBinaries } from './binaries.ts';
import type { ConfinementPlan } from './confinement.ts';
import { canSwitchUser, sandboxOsUser, sandboxUserIds } from './os-user.ts';
import { initCluster, type SandboxPaths } from './server-process.ts';

/**
 * What the sandbox OS user may reach: the sandbox root to traverse, its own data and socket
 * directories, and the superuser password file for initdb, nothing else.
 */

const run = promisify(execFile);

/** A directory only the sandbox user can use (the worker, as root, still reaches it). */
export async function privateToSandboxUser(dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o700 });
  if (!canSwitchUser()) return;
  const { uid, gid } = await sandboxUserIds();
  await chown(dir, uid, gid);
}

/**
 * The root holds one directory per sandbox (and PITR restores): it belongs to the worker and is
 * traversable (0711) but not listable or writable by the sandbox user.
 */
export async function prepareRoot(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o711 }).catch((error: NodeJS.ErrnoException) => {
    throw new HindsightError(
      error.code === 'ENOSPC' ? 'no_space' : 'access_denied',
      `cannot create the sandbox root ${root} (${error.code ?? errorMessage(error)}): choose another sandbox root or fix its permissions`,
      { cause: error },
    );
  });
  if (!canSwitchUser()) return;
  const { uid, gid } = await sandboxUserIds();
  const canEnter = () =>
    run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'test', '-x', root]).then(
      () => true,
      () => false,
    );
  if (await canEnter()) return;
  // A root made 0700 by another part of the worker, or handed to the `postgres` user by an older
  // Hindsight, is opened to traversal only: it holds nothing but per-sandbox directories.
  const info = await stat(root);
  await chmod(root, (info.mode & 0o777) | 0o011);
  if (!(await canEnter())) {
    throw new HindsightError(
      'access_denied',
      `sandboxes run as OS user "${sandboxOsUser()}", who cannot reach ${root}: make it and its parents traversable (chmod o+x), or choose another sandbox root`,
    );
  }
}

/** initdb with a random superuser password, given through a file only the sandbox user can read and removed at once. */
export async function initialise(
  binaries: ServerBinaries,
  plan: ConfinementPlan,
  paths: SandboxPaths,
  signal: AbortSignal | undefined,
): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  const pwfile = path.join(paths.socketDir, 'superuser.pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    if (canSwitchUser()) {
      const { uid, gid } = await sandboxUserIds();
      await chown(pwfile, uid, gid);
    }
    await initCluster(binaries, plan, paths, pwfile, signal);
  } finally {
    await rm(pwfile, { force: true });
  }
  return password;
}
