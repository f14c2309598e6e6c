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

export interface StorageDriver {
  /** Human name used in every error message, e.g. `local "default"`. */
  readonly label: string;
  openWrite(key: string): Promise<AtomicWrite>;
  openRead(key: string): Promise<Readable>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  list(prefix: string): Promise<ObjectInfo[]>;
  remove(key: string): Promise<void>;
  /**
   * Removes leftovers of writes to keys starting with `keyPrefix` that never committed (a worker
   * killed mid-upload), if older than `olderThanMs`. Returns how many were removed.
   */
  sweepAbandonedWrites(keyPrefix: string, olderThanMs: number): Promise<number>;
}

/** Error texts are defined once per operation so that every driver fails in the same words. */
export function storageError(
  kind: ErrorKind,
  label: string,
  operation: 'write' | 'read' | 'stat' | 'list' | 'remove',
  key: string,
  detail: string,
): HindsightError {
  const hints: Partial<Record<ErrorKind, string>> = {
    not_found: 'check the key and that the backup was not removed by retention',
    access_denied: 'check the permissions of the storage credentials or directory',
    unreachable: 'check that the storage is reachable from the worker',
    no_space: 'free space on the storage or raise its quota',
  };
  const hint = hints[kind];
  return new HindsightError(kind, `storage ${label}: unable to ${operation} '${key}': ${detail}${hint ? ` (${hint})` : ''}`);
}

/** Keys are relative, slash-separated and never climb out of the storage root. */
export function assertSafeKey(key: string): void {
  if (key.length === 0 || key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '.' || part === '') || key.includes('\0')) {
    throw new HindsightError('bad_input', `storage key '${key}' is not a safe relative path`);
  }
}
