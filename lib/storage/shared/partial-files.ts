import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { assertSafeKey } from '../contract.ts';

/**
 * Drivers that write to a temporary file and rename it on commit (local, sftp, ftp, rclone) name
 * it `<dir>/.<name>.partial-<random>`: hidden, next to its key (so the rename stays within one
 * directory and file system), and never listed.
 */
export const PARTIAL_MARK = '.partial-';

/** The file name of a new partial for an object named `name`. */
export function partialName(name: string): string {
  return `.${name}${PARTIAL_MARK}${randomBytes(6).toString('hex')}`;
}

/** Whether a file name is a partial, i.e. never a committed object. */
export function isPartialName(name: string): boolean {
  return name.includes(PARTIAL_MARK);
}

/** A key split into its directory (a key, '' for the root) and its last name. */
export function splitKey(key: string): { dir: string; name: string } {
  const slash = key.lastIndexOf('/');
  return { dir: slash >= 0 ? key.slice(0, slash) : '', name: key.slice(slash + 1) };
}

/** The key of a new partial for `key`, in the same directory. */
export function partialKeyOf(key: string): string {
  const { dir, name } = splitKey(key);
  return dir ? `${dir}/${partialName(name)}` : partialName(name);
}

/** One file in the directory a sweep looks at. */
export interface SweepEntry {
  name: string;
  isFile: boolean;
}

/** How a driver lists one directory and removes a file in it; `dir` is a key ('' for the root). */
export interface SweepIo<E extends SweepEntry> {
  /** The directory's entries; none when it does not exist. */
  list(dir: string): Promise<E[]>;
  /** When the entry was last written; undefined when unknown, and then it is kept. */
  modifiedAt(dir: string, entry: E): Promise<Date | undefined>;
  remove(dir: string, entry: E): Promise<void>;
}

/**
 * Removes partials of keys starting with `keyPrefix` that are older than `olderThanMs`: the
 * leftovers of writers killed mid-upload. A partial of key K is `.<name of K><mark>…` in K's
 * directory, so only that one directory is read. Returns how many were removed.
 */
export async function sweepPartials<E extends SweepEntry>(
  keyPrefix: string,
  olderThanMs: number,
  io: SweepIo<E>,
): Promise<number> {
  assertSafeKey(keyPrefix);
  const { dir, name } = splitKey(keyPrefix);
  const start = `.${name}`;
  let removed = 0;
  for (const entry of await io.list(dir)) {
    if (!entry.isFile || !entry.name.startsWith(start) || !isPartialName(entry.name)) continue;
    // A partial of unknown age may belong to a write still running: leave it.
    const modifiedAt = await io.modifiedAt(dir, entry);
    if (!modifiedAt || Date.now() - modifiedAt.getTime() < olderThanMs) continue;
    await io.remove(dir, entry);
    removed += 1;
  }
  return removed;
}

/**
 * The same on a server of POSIX paths (sftp, ftp) below the directory `base`: `io` gets each
 * directory as its path on the server.
 */
export function sweepPartialsBelow<E extends SweepEntry>(
  base: string,
  keyPrefix: string,
  olderThanMs: number,
  io: SweepIo<E>,
): Promise<number> {
  const dirPath = (dir: string): string => (dir ? posix.join(base, dir) : base);
  return sweepPartials(keyPrefix, olderThanMs, {
    list: (dir) => io.list(dirPath(dir)),
    modifiedAt: (dir, entry) => io.modifiedAt(dirPath(dir), entry),
    remove: (dir, entry) => io.remove(dirPath(dir), entry),
  });
}

/** Where a write to `target` on a server of POSIX paths goes until commit: a partial in the same directory. */
export function partialBeside(target: string): { dir: string; partial: string } {
  const dir = posix.dirname(target);
  return { dir, partial: posix.join(dir, partialName(posix.basename(target))) };
}

/** What a driver writing through a partial file needs to know of one write; `fail` words its errors. */
export interface PartialFileWrite<F> {
  label: string;
  key: string;
  /** The object's path on the server. */
  target: string;
  fail: F;
}
