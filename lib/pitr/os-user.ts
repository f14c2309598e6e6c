import { execFile } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { promisify } from 'node:util';
import { HindsightError } from '../errors.ts';

const run = promisify(execFile);

/** PostgreSQL refuses to run as root: as root, its files and processes belong to this user (lib/pg/cluster.ts does the same). */
export const serverOsUser = (): string => process.env.HINDSIGHT_PG_OS_USER ?? 'postgres';
export const runningAsRoot = (): boolean => process.getuid?.() === 0;

let ids: Promise<{ uid: number; gid: number }> | undefined;
export function serverUserIds(): Promise<{ uid: number; gid: number }> {
  ids ??= (async () => {
    const user = serverOsUser();
    const { stdout: uid } = await run('id', ['-u', user]).catch(() => {
      throw new HindsightError('not_found', `running as root, PostgreSQL must run as user "${user}", which does not exist: run 'npm run setup' or 'useradd --system ${user}'`);
    });
    const { stdout: gid } = await run('id', ['-g', user]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  })();
  ids.catch(() => { ids = undefined; });
  return ids;
}

/** Hands a path to the server's user when we are root; a no-op otherwise. */
export async function handToServerUser(file: string): Promise<void> {
  if (!runningAsRoot()) return;
  const { uid, gid } = await serverUserIds();
  await chown(file, uid, gid);
}

/** The command line that runs a server tool as the server's user. */
export function asServerUser(file: string, args: string[]): [string, string[]] {
  return runningAsRoot() ? ['runuser', ['-u', serverOsUser(), '--', file, ...args]] : [file, args];
}

/** Whether the server's user can enter a directory (every parent must be traversable). */
export async function serverUserCanEnter(dir: string): Promise<boolean> {
  if (!runningAsRoot()) return true;
  try {
    await run('runuser', ['-u', serverOsUser(), '--', 'test', '-x', dir]);
    return true;
  } catch {
    return false;
  }
}
