import type { Readable, Writable } from 'node:stream';
import { HindsightError, type ErrorKind } from '../errors.ts';

/**
 * The contract every storage driver implements (after pgBackRest's src/storage): atomic writes,
 * streaming reads, list by prefix, stat and remove. Nothing above it knows which driver it has.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  modifiedAt: Date;
}

/**
 * A write in progress. Bytes go to a temporary place; `commit` makes the object visible under its
 * key in one step, `abort` discards it. An object is never visible half-written.
 */
export interface AtomicWrite {
  readonly stream: Writable;
  commit(): Promise<ObjectInfo>;
  abort(): Promise<void>;
}

/** Bytes `start` (inclusive) to `end` (exclusive; the object's end when absent). */
export interface ReadRange {
  start: number;
  end?: number;
}

export interface StorageDriver {
  /** Human name used in every error message, e.g. `local "default"`. */
  readonly label: string;
  openWrite(key: string): Promise<AtomicWrite>;
  /** Fails with kind `not_found` when the key does not exist. */
  openRead(key: string, range?: ReadRange): Promise<Readable>;
  /** Undefined when the key does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /**
   * Every committed object below the directory `dir` (no trailing slash; '' for the root), at any
   * depth, sorted by key. Uncommitted writes never appear.
   */
  list(dir: string): Promise<ObjectInfo[]>;
  /** Removing a missing key is not an error. */
  remove(key: string): Promise<void>;
  /** Releases connections and clients; the driver is unusable afterwards. */
  close?(): Promise<void>;
  /**
   * Removes leftovers of writes to keys starting with `keyPrefix` that never committed (a worker
   * killed mid-upload), if older than `olderThanMs`. Returns how many were removed.
   */
  sweepAbandonedWrites(keyPrefix: string, olderThanMs: number): Promise<number>;
  /**
   * Checks what the settings ask of the storage beyond reading and writing (S3's objectLock needs a
   * bucket with Object Lock enabled); fails with the fix named. Run by the connection test first.
   */
  checkSettings?(): Promise<void>;
  /**
   * The date before which the storage refuses to delete the object at `key` (S3 Object Lock);
   * undefined when it holds no such lock or no such object.
   */
  lockedUntil?(key: string): Promise<Date | undefined>;
}

export type StorageOperation = 'write' | 'read' | 'stat' | 'list' | 'remove' | 'connect';

/** Error texts are defined once per operation so that every driver fails in the same words. */
export function storageError(
  kind: ErrorKind,
  label: string,
  operation: StorageOperation,
  key: string,
  detail: string,
): HindsightError {
  const hints: Partial<Record<ErrorKind, string>> = {
    not_found: 'check the key and that the backup was not removed by retention',
    access_denied: 'check the permissions of the storage credentials or directory',
    unreachable: 'check that the storage is reachable from the worker',
    bad_input: 'check the storage settings',
    no_space: 'free space on the storage or raise its quota',
  };
  const hint = hints[kind];
  const what = operation === 'connect' ? 'connect' : `${operation} '${key}'`;
  return new HindsightError(kind, `storage ${label}: unable to ${what}: ${detail}${hint ? ` (${hint})` : ''}`);
}

/** Keys are relative, slash-separated and never climb out of the storage root. */
export function assertSafeKey(key: string): void {
  if (
    key.length === 0 ||
    key.startsWith('/') ||
    key.split('/').some((part) => part === '..' || part === '.' || part === '') ||
    key.includes('\0')
  ) {
    throw new HindsightError('bad_input', `storage key '${key}' is not a safe relative path`);
  }
}

/** Validates a range against the contract before a driver turns it into its own form. */
export function assertRange(range: ReadRange | undefined): void {
  if (!range) return;
  const ok =
    Number.isSafeInteger(range.start) &&
    range.start >= 0 &&
    (range.end === undefined || (Number.isSafeInteger(range.end) && range.end >= range.start));
  if (!ok)
    throw new HindsightError(
      'bad_input',
      `read range ${JSON.stringify(range)} is invalid: start must be >= 0 and end >= start`,
    );
}
