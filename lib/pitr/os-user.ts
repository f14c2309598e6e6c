/**
 * The OS user and environment a restored cluster runs with. A base backup is hostile content: its
 * superuser can run programs as the server's OS user (COPY … TO PROGRAM, an untrusted language),
 * so a restored server runs as the dedicated sandbox user (lib/sandbox/os-user.ts), never as
 * `postgres` (which runs the catalog) nor the worker's own user, and with a scrubbed environment
 * (no HINDSIGHT_*, no DATABASE_URL, no cloud credentials). This holds for sandbox restores and for
 * directory restores alike: a directory the operator keeps holds the same hostile content, and
 * whoever takes it over later may chown it to a user of their choice.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import {
  asSandboxUser,
  canSwitchUser,
  handToSandboxUser,
  sandboxEnv,
  sandboxOsUser,
  sandboxUserIds,
} from '../sandbox/os-user.ts';

const run = promisify(execFile);

export const serverOsUser = sandboxOsUser;
export const runningAsRoot = canSwitchUser;
export const serverUserIds = sandboxUserIds;

/** Hands a path to the server's user when we are root; a no-op otherwise. */
export const handToServerUser = handToSandboxUser;

/** The whole environment of a restored server and of the tools run over its files. */
export const serverEnv = (): Record<string, string> => sandboxEnv();

/** runuser lives in an sbin directory, which the scrubbed PATH leaves out: it is named by its path. */
let runuserPath: string | undefined;
function runuser(): string {
  runuserPath ??=
    ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser', '/bin/runuser'].find((file) => existsSync(file)) ??
    'runuser';
  return runuserPath;
}

/** The command line that runs a server tool as the server's user (spawn it with env: serverEnv()). */
export function asServerUser(file: string, args: string[]): [string, string[]] {
  const [cmd, cmdArgs] = asSandboxUser(file, args);
  return cmd === 'runuser' ? [runuser(), cmdArgs] : [cmd, cmdArgs];
}

/** Whether the server's user can enter a directory (every parent must be traversable). */
export async function serverUserCanEnter(dir: string): Promise<boolean> {
  if (!runningAsRoot()) return true;
  try {
    await run(...asServerUser('test', ['-x', dir]), { env: serverEnv() });
    return true;
  } catch {
    return false;
  }
}
