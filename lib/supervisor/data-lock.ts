/**
 * One `npm start` per data directory. The lock is a file naming the supervisor's pid, its start
 * time (so that a later process given the same pid is not taken for it) and whether it runs or is
 * stopping. It appears whole or not at all (written aside, then hard-linked into place, which fails
 * when one exists), so a reader never sees half of it. A second start waits for a first that is
 * stopping (its catalog and Temporal are still going down), refuses one that runs, and takes over
 * the lock of one that is gone (killed with SIGKILL, or the machine restarted).
 */
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { HindsightError } from '../errors.ts';
import { processAlive, processStartTime } from './process-alive.ts';

export const LOCK_FILE = 'start.lock';

const lockRecordSchema = z.object({
  pid: z.number().int().positive(),
  startTime: z.string().optional(),
  state: z.enum(['running', 'stopping']),
});
export type LockRecord = z.infer<typeof lockRecordSchema>;

export interface LockEvents {
  /** Once, when the holder is stopping and this start waits for it. */
  waiting?: (holder: LockRecord) => void;
  /** The holder is gone: its lock is taken over. */
  takenOver?: (holder: LockRecord) => void;
}

export interface LockOptions extends LockEvents {
  /** How often a waiting start looks again. */
  pollMs?: number;
  /** How long a start waits for a stopping one before it refuses. */
  waitMs?: number;
}

export interface DataLock {
  readonly file: string;
  /** Says to a start that comes now that this one is stopping, and that it should wait. */
  markStopping(): Promise<void>;
  /** Removes the lock, if it is still this process's. */
  release(): Promise<void>;
}

async function readLock(file: string): Promise<LockRecord | undefined | 'unreadable'> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  try {
    return lockRecordSchema.parse(JSON.parse(text));
  } catch {
    return 'unreadable';
  }
}

/** Writes `record` beside `file`, then puts it in place: by hard link (refused when a lock exists), or by rename over it. */
async function placeRecord(file: string, record: LockRecord, how: 'create' | 'replace'): Promise<boolean> {
  const aside = `${file}.${process.pid}.tmp`;
  await writeFile(aside, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  try {
    if (how === 'replace') await rename(aside, file);
    else await link(aside, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(aside, { force: true });
  }
}

const sameHolder = (a: LockRecord, b: LockRecord) => a.pid === b.pid && a.startTime === b.startTime;

/**
 * Moves a dead holder's lock aside. Two starts may find the same dead lock: the one whose rename
 * took a fresh lock instead (the other's, placed meanwhile) puts it back and looks again.
 */
async function removeStale(file: string, stale: LockRecord | 'unreadable'): Promise<void> {
  const aside = `${file}.stale-${process.pid}`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readLock(aside);
  const wasStale =
    moved === stale || (typeof moved === 'object' && typeof stale === 'object' && sameHolder(moved, stale));
  if (!wasStale) await link(aside, file).catch(() => undefined);
  await rm(aside, { force: true });
}

function refusal(dataDir: string, holder: LockRecord): HindsightError {
  return new HindsightError(
    'conflict',
    `Hindsight is already running on ${dataDir} (pid ${holder.pid}): stop it first (Ctrl-C in its terminal, or kill ${holder.pid}), or give this one another HINDSIGHT_DATA_DIR`,
  );
}

/** Takes the lock of `dataDir`, waiting for a holder that is stopping; refuses while one runs. */
export async function acquireDataLock(dataDir: string, options: LockOptions = {}): Promise<DataLock> {
  const { pollMs = 500, waitMs = 180_000 } = options;
  const file = path.join(dataDir, LOCK_FILE);
  const own: LockRecord = { pid: process.pid, startTime: await processStartTime(process.pid), state: 'running' };
  const deadline = Date.now() + waitMs;
  let waited = false;
  while (!(await placeRecord(file, own, 'create'))) {
    const holder = await readLock(file);
    if (holder === undefined) continue;
    if (holder === 'unreadable' || !(await processAlive(holder.pid, holder.startTime))) {
      if (holder !== 'unreadable') options.takenOver?.(holder);
      await removeStale(file, holder);
      continue;
    }
    if (holder.state === 'running' || Date.now() > deadline) throw refusal(dataDir, holder);
    if (!waited) options.waiting?.(holder);
    waited = true;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return {
    file,
    async markStopping() {
      const current = await readLock(file);
      if (typeof current === 'object' && sameHolder(current, own))
        await placeRecord(file, { ...own, state: 'stopping' }, 'replace');
    },
    async release() {
      const current = await readLock(file);
      if (typeof current === 'object' && sameHolder(current, own)) await rm(file, { force: true });
    },
  };
}
