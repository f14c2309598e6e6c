/**
 * The processes a start spawned, listed in `<data dir>/start.children.json` with their start times,
 * so that the start which takes over from one killed with SIGKILL stops what it left behind. The
 * kernel sends each child SIGTERM when the supervisor dies (runs.ts), but that is not enough: a
 * Temporal server winding down keeps its SQLite database locked for as long as it takes, so the
 * next start's Temporal fails with SQLITE_BUSY until it is gone; and without setpriv the children
 * are not told at all. A pid in the list whose start time differs is a later process: left alone.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import { processAlive, processStartTime } from './process-alive.ts';

export const CHILDREN_FILE = 'start.children.json';

const entrySchema = z.object({ name: z.string(), pid: z.number().int().positive(), startTime: z.string().optional() });
const childrenSchema = z.array(entrySchema);
type Entry = z.infer<typeof entrySchema>;

/** This start's children, kept in the data directory as they start and end. */
export class ChildRegistry {
  private readonly entries = new Map<number, Entry>();
  private writing: Promise<void> = Promise.resolve();
  readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, CHILDREN_FILE);
  }

  /** Records a child that has just started. */
  async add(name: string, pid: number): Promise<void> {
    // In the map at once: an exit that comes before the start time is read still finds it to remove.
    this.entries.set(pid, { name, pid });
    const startTime = await processStartTime(pid);
    const entry = this.entries.get(pid);
    if (!entry) return;
    if (startTime !== undefined) entry.startTime = startTime;
    await this.save();
  }

  /** Forgets a child that has ended. */
  async remove(pid: number): Promise<void> {
    if (this.entries.delete(pid)) await this.save();
  }

  /** Removes the list, once every child has been stopped. */
  async clear(): Promise<void> {
    this.entries.clear();
    this.writing = this.writing.then(() => rm(this.file, { force: true }));
    await this.writing;
  }

  /** Writes are serialised, each whole (written aside, then renamed over the list). */
  private save(): Promise<void> {
    const text = JSON.stringify([...this.entries.values()]);
    const aside = `${this.file}.${process.pid}.tmp`;
    this.writing = this.writing
      .then(async () => {
        await writeFile(aside, text, { mode: 0o600 });
        await rename(aside, this.file);
      })
      .catch(() => undefined);
    return this.writing;
  }
}

async function readChildren(file: string, log: Logger): Promise<Entry[]> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return [];
  try {
    return childrenSchema.parse(JSON.parse(text));
  } catch {
    log.warn(`${file} is unreadable: it is removed, and no child of an earlier start is looked for`);
    return [];
  }
}

async function gone(entry: Entry, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (await processAlive(entry.pid, entry.startTime)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone meanwhile, or not ours to signal: the wait that follows says which.
  }
}

/**
 * Stops the children an earlier start left running (SIGTERM, then SIGKILL after `graceMs`) and
 * removes their list. Returns the names of those it found still running.
 */
export async function sweepOrphans(dataDir: string, log: Logger, graceMs = 10_000): Promise<string[]> {
  const file = path.join(dataDir, CHILDREN_FILE);
  const alive: Entry[] = [];
  for (const entry of await readChildren(file, log))
    if (await processAlive(entry.pid, entry.startTime)) alive.push(entry);
  await Promise.all(
    alive.map(async (entry) => {
      log.warn(`stopping ${entry.name} (pid ${entry.pid}), left running by the earlier start`);
      signal(entry.pid, 'SIGTERM');
      if (await gone(entry, graceMs)) return;
      log.warn(`${entry.name} (pid ${entry.pid}) did not stop in ${graceMs / 1000} s: killing it`);
      signal(entry.pid, 'SIGKILL');
      if (!(await gone(entry, 5_000)))
        throw new Error(
          `${entry.name} (pid ${entry.pid}) of an earlier start does not stop: kill it, then start again`,
        );
    }),
  );
  await rm(file, { force: true });
  return alive.map((entry) => entry.name);
}
