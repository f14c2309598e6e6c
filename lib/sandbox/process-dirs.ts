import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { HindsightError, errorMessage } from '../errors.ts';
import type { ConfinementPlan } from './confinement.ts';
import { currentOwner, ownerIsAlive } from './owner.ts';
import { SANDBOX_PORT, belongsToSandbox, postmasterPid, stopProcess, type SandboxPaths } from './server-process.ts';

/**
 * Process sandbox directories on this host: their layout, the owner.json that says who made them,
 * and their removal, by the sandbox itself, at the worker's exit or by a later sweep of leftovers.
 */

// ---------------------------------------------------------------------------------------------
// Stopping whatever runs from a sandbox directory, from what it recorded.

/** Stops the server a sandbox directory names (its owner.json's serverPid, else its postmaster.pid), if still its own. */
async function stopServerOf(dir: string, serverPid: number | undefined, bwrap: boolean): Promise<void> {
  if (serverPid !== undefined && (await belongsToSandbox(serverPid, dir))) await stopProcess(serverPid, bwrap);
  // A bare postmaster (or one started by an older Hindsight with pg_ctl) recorded its host pid here.
  const pid = await postmasterPid(path.join(dir, 'data'));
  if (pid !== undefined && (await belongsToSandbox(pid, dir))) await stopProcess(pid, false);
}

export async function removeSandboxDir(dir: string, serverPid: number | undefined, bwrap: boolean): Promise<void> {
  await stopServerOf(dir, serverPid, bwrap);
  // Children of a killed server may still write for a moment: retry on ENOTEMPTY.
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/** Sandboxes of this process still standing: a normal exit takes them down (a crash takes them with it: see server-process.ts). */
const live = new Map<string, ChildProcess | undefined>();
let exitHookInstalled = false;
export function trackLive(dir: string, child: ChildProcess | undefined): void {
  live.set(dir, child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [liveDir, liveChild] of live) {
      if (liveChild?.pid !== undefined && liveChild.exitCode === null) {
        try {
          process.kill(liveChild.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(liveDir, { recursive: true, force: true, maxRetries: 3 });
    }
  });
}

/** The sandbox is gone: the exit hook and the sweep no longer need to know of it. */
export function untrackLive(dir: string): void {
  live.delete(dir);
}

// ---------------------------------------------------------------------------------------------

const ownerFileSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number().int().positive(),
  start: z.string().nullable(),
  port: z.number().int().nullable(),
  major: z.number().int(),
  label: z.string(),
  createdAt: z.string(),
  /** The process the worker started for the server (bwrap, or the postmaster itself). */
  serverPid: z.number().int().positive().optional(),
  confinement: z.enum(['bwrap', 'os-user', 'none']).optional(),
});
export type SandboxOwnerFile = z.infer<typeof ownerFileSchema>;

async function readOwnerFile(dir: string): Promise<SandboxOwnerFile | undefined> {
  try {
    const parsed = ownerFileSchema.safeParse(JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A directory without a readable owner.json may be one being created right now: it is left alone this long. */
const UNOWNED_GRACE_MS = 60_000;
/**
 * Containers sharing one data volume see each other's sandboxes but cannot look at each other's
 * processes: another host's sandbox is live while its owner keeps touching its owner.json.
 */
export const HEARTBEAT_MS = 60_000;
const FOREIGN_STALE_MS = 10 * 60_000;
const SANDBOX_DIR = /^sbx-([a-z0-9]+)$/;

export function sandboxPaths(root: string, id: string): SandboxPaths {
  const dir = path.join(root, `sbx-${id}`);
  const paths: SandboxPaths = {
    dir,
    dataDir: path.join(dir, 'data'),
    socketDir: path.join(dir, 'socket'),
    logFile: path.join(dir, 'server.log'),
  };
  // sun_path holds 107 bytes: a deep root cannot hold the server's socket.
  if (Buffer.byteLength(path.join(paths.socketDir, `.s.PGSQL.${SANDBOX_PORT}.lock`)) > 107) {
    throw new HindsightError(
      'bad_input',
      `sandbox root ${root} is too deep for a unix socket path inside it: choose a shorter one`,
    );
  }
  return paths;
}

/** Writes the sandbox's owner.json: who made it, for a later sweep; again with the server's pid once it runs. */
interface OwnerOf {
  id: string;
  major: number;
  label: string;
  confinement: ConfinementPlan['kind'];
}

export function ownerWriter(dir: string, sandbox: OwnerOf) {
  const owner = currentOwner();
  const createdAt = new Date().toISOString();
  const { id, major, label, confinement } = sandbox;
  return (serverPid?: number) => {
    const record: SandboxOwnerFile = {
      id,
      host: owner.host,
      pid: owner.pid,
      start: owner.start,
      port: SANDBOX_PORT,
      major,
      label,
      createdAt,
      confinement,
      ...(serverPid ? { serverPid } : {}),
    };
    return writeFile(path.join(dir, 'owner.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
  };
}

async function isLeftover(dir: string, owner: SandboxOwnerFile | undefined): Promise<boolean> {
  const changedWithin = async (file: string, ms: number) => {
    const info = await stat(file).catch(() => undefined);
    return !info || Date.now() - info.mtimeMs < ms;
  };
  if (owner)
    return owner.host === os.hostname()
      ? !ownerIsAlive(owner)
      : !(await changedWithin(path.join(dir, 'owner.json'), FOREIGN_STALE_MS));
  return !(await changedWithin(dir, UNOWNED_GRACE_MS));
}

export async function sweepLeftovers(root: string): Promise<{ removed: string[] }> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { removed: [] };
    throw error;
  }
  const removed: string[] = [];
  const failures: string[] = [];
  for (const name of names.sort()) {
    const id = SANDBOX_DIR.exec(name)?.[1];
    if (!id) continue;
    const dir = path.join(root, name);
    if (live.has(dir)) continue;
    const owner = await readOwnerFile(dir);
    if (!(await isLeftover(dir, owner))) continue;
    try {
      // Only another host's sandbox can still run here: one of ours died with its worker.
      await removeSandboxDir(
        dir,
        owner?.host === os.hostname() ? owner.serverPid : undefined,
        owner?.confinement === 'bwrap',
      );
      removed.push(id);
    } catch (error) {
      failures.push(`${dir}: ${errorMessage(error)}`);
    }
  }
  if (failures.length > 0) {
    throw new HindsightError(
      'tool_failed',
      `could not remove ${failures.length} leftover sandbox(es): ${failures.join('; ')}${removed.length ? ` (removed: ${removed.join(', ')})` : ''}`,
    );
  }
  return { removed };
}
