/**
 * The OS user that throwaway servers (verification sandboxes, PITR restores) run as. A restored
 * cluster is hostile content: its superuser can run programs as the server's OS user, so that user
 * must be neither the worker's nor the catalog's (`postgres`, lib/pg/cluster.ts) and must not be
 * able to read the secret key, the catalog or the worker's /proc. Only root can switch users; a
 * worker that is not root runs sandboxes as itself, and docs/security.md says what that loses.
 */
import { execFile } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { promisify } from 'node:util';
import { HindsightError } from '../errors.ts';

const run = promisify(execFile);

export const sandboxOsUser = (): string => process.env.HINDSIGHT_SANDBOX_OS_USER ?? 'hindsight-sandbox';
export const canSwitchUser = (): boolean => process.getuid?.() === 0;

let ids: Promise<{ uid: number; gid: number }> | undefined;
export function sandboxUserIds(): Promise<{ uid: number; gid: number }> {
  ids ??= (async () => {
    const user = sandboxOsUser();
    const { stdout: uid } = await run('id', ['-u', user]).catch(() => {
      throw new HindsightError(
        'not_found',
        `sandboxes run as OS user "${user}", which does not exist: run 'npm run setup' or 'useradd --system --shell /usr/sbin/nologin ${user}'`,
      );
    });
    const { stdout: gid } = await run('id', ['-g', user]);
    const found = { uid: Number(uid.trim()), gid: Number(gid.trim()) };
    if (found.uid === 0 || found.uid === process.getuid?.()) {
      throw new HindsightError(
        'bad_input',
        `sandbox OS user "${user}" is the worker's own user or root: set HINDSIGHT_SANDBOX_OS_USER to a dedicated user`,
      );
    }
    return found;
  })();
  ids.catch(() => {
    ids = undefined;
  });
  return ids;
}

/** Hands a path to the sandbox user when we are root; a no-op otherwise. */
export async function handToSandboxUser(file: string): Promise<void> {
  if (!canSwitchUser()) return;
  const { uid, gid } = await sandboxUserIds();
  await chown(file, uid, gid);
}

/**
 * The whole environment a sandboxed server gets: nothing of the worker's (no HINDSIGHT_*, no
 * DATABASE_URL, no cloud credentials), only what PostgreSQL and its tools need.
 */
export function sandboxEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', TZ: 'UTC', ...extra };
}

/** The command line that runs a server binary as the sandbox user (spawn it with env: sandboxEnv()). */
export function asSandboxUser(file: string, args: string[]): [string, string[]] {
  return canSwitchUser() ? ['runuser', ['-u', sandboxOsUser(), '--', file, ...args]] : [file, args];
}
