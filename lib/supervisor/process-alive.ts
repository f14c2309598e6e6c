import { readFile } from 'node:fs/promises';

/**
 * The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses):
 * [0] is the state, [19] the start time in clock ticks since boot.
 */
async function statFields(pid: number): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

/**
 * When a process started (clock ticks since boot), to tell it from a later one given the same pid;
 * undefined where /proc does not say (then the pid alone identifies it).
 */
export async function processStartTime(pid: number): Promise<string | undefined> {
  return (await statFields(pid))?.[19];
}

/**
 * Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not), and, given the
 * start time recorded with it, is still that process rather than a later one with its number.
 */
export async function processAlive(pid: number, startTime?: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const fields = await statFields(pid);
  if (!fields) return true;
  if (fields[0] === 'Z' || fields[0] === 'X') return false;
  return startTime === undefined || fields[19] === startTime;
}
