/**
 * Which files of a `pg_dump -Fd -j N` spool are finished. pg_dump's workers write each file of the
 * directory archive once, from open to close, and never reopen it; so a file that is in the
 * directory and held open by none of pg_dump's processes (its own and its children's
 * /proc/<pid>/fd) is complete and can be sent and deleted. The directory is listed before the
 * descriptors are read: a file created in between is then open in the reading, never mistaken
 * for a finished one. Where /proc cannot be read, nothing counts as finished until pg_dump exits.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

/** pg_dump writes the table of contents; it goes last, once pg_dump has exited cleanly. */
export const TOC_FILE = 'toc.dat';

/** A process and its descendants, from /proc/<pid>/task/<tid>/children (Linux). */
export async function processTree(rootPid: number, proc = '/proc'): Promise<number[]> {
  const seen: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    seen.push(pid);
    const tasks = await readdir(path.join(proc, String(pid), 'task')).catch(() => []);
    for (const task of tasks) {
      const text = await readFile(path.join(proc, String(pid), 'task', task, 'children'), 'utf8').catch(() => '');
      for (const child of text.split(/\s+/).filter(Boolean)) {
        const childPid = Number(child);
        if (!seen.includes(childPid) && !queue.includes(childPid)) queue.push(childPid);
      }
    }
  }
  return seen;
}

/**
 * The paths these processes hold open, or undefined when /proc does not show the root's
 * descriptors (not Linux, or hidden): then no file can be told finished.
 */
export async function openPaths(pids: number[], proc = '/proc'): Promise<Set<string> | undefined> {
  const open = new Set<string>();
  for (const [index, pid] of pids.entries()) {
    const fdDir = path.join(proc, String(pid), 'fd');
    let fds: string[];
    try {
      fds = await readdir(fdDir);
    } catch {
      // A child gone since it was listed holds nothing; the root unreadable means we cannot tell.
      if (index === 0) return undefined;
      continue;
    }
    for (const fd of fds) {
      const target = await readlink(path.join(fdDir, fd)).catch(() => undefined);
      if (target) open.add(target);
    }
  }
  return open;
}

export interface SpoolState {
  /** The spool's file names, listed before `open` was read. */
  listed: string[];
  /** Full paths pg_dump's processes hold open; undefined when that cannot be known. */
  open: Set<string> | undefined;
  /** Whether pg_dump has exited with success (every file is then complete). */
  finished: boolean;
}

/**
 * The files to send now, in the order they go into the tar: finished data files by name, and once
 * pg_dump has exited, the rest by name with toc.dat last, so that an archive holding toc.dat is one
 * pg_dump completed. Files already sent are no longer listed (they are deleted once sent).
 */
export function filesReady(dir: string, state: SpoolState): string[] {
  const names = [...state.listed].sort();
  const data = names.filter((name) => name !== TOC_FILE);
  if (state.finished) return names.includes(TOC_FILE) ? [...data, TOC_FILE] : data;
  const open = state.open;
  if (!open) return [];
  return data.filter((name) => !open.has(path.join(dir, name)));
}

/** One look at the spool: listing first, then pg_dump's descriptors. */
export async function readSpool(dir: string, pgDumpPid: number | undefined, finished: boolean): Promise<SpoolState> {
  const listed = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    // pg_dump creates the directory itself, a moment after it starts.
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (finished || pgDumpPid === undefined) return { listed, open: undefined, finished };
  return { listed, open: await openPaths(await processTree(pgDumpPid)), finished };
}
