import { HindsightError } from '../errors.ts';
import { azureImmutability } from './azure/config.ts';
import { s3ObjectLock } from './s3/config.ts';

/**
 * What the layers above the drivers know of immutable storage (S3 Object Lock, Azure immutability): the refusal a driver
 * throws for an object still under retention, and the date until which a storage keeps what it was
 * given. No SDK loads here.
 */

const DAY_MS = 86_400_000;

/** A delete the storage refused because the object is locked until `lockedUntil`. */
export class ObjectLockedError extends HindsightError {
  readonly lockedUntil: Date;
  constructor(message: string, lockedUntil: Date) {
    super('conflict', message);
    this.lockedUntil = lockedUntil;
  }
}

/** The date of a refusal for a locked object; undefined for any other error. */
export function lockedUntilOf(error: unknown): Date | undefined {
  // By shape as well as class: a driver loaded through require() may see its own copy of this module.
  if (error instanceof ObjectLockedError) return error.lockedUntil;
  const until = (error as { lockedUntil?: unknown } | null)?.lockedUntil;
  return until instanceof Date ? until : undefined;
}

/** Runs a removal; one the storage refuses for a lock resolves false (it goes on a later run), any other failure rejects. */
export async function removedUnlessLocked(remove: Promise<void>): Promise<boolean> {
  try {
    await remove;
    return true;
  } catch (error) {
    if (lockedUntilOf(error) === undefined) throw error;
    return false;
  }
}

/** How many days a storage locks each object it is given, from its settings without secrets; 0 when it does not. */
export function lockDays(storage: { type: string; settings: Record<string, unknown> }): number {
  const lock =
    storage.type === 's3'
      ? s3ObjectLock.safeParse(storage.settings.objectLock)
      : storage.type === 'azure'
        ? azureImmutability.safeParse(storage.settings.immutability)
        : undefined;
  return lock?.success ? lock.data.days : 0;
}

/**
 * The latest retention date of the objects of a backup that finished at `finishedAt` on a storage
 * locking them for `days`: each object was written before the backup finished, with now + days.
 */
export function lockedUntilAfter(finishedAt: Date, days: number): Date | undefined {
  return days > 0 ? new Date(finishedAt.getTime() + days * DAY_MS) : undefined;
}

/** The date as the plan and error messages show it. */
export function lockDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export { DAY_MS };
