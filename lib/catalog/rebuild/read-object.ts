/**
 * Reads of objects whose size the listing gave. Asking the driver for exactly that range matters at
 * 100,000 objects: a stream opened without one reads ahead in 256 KiB buffers, so every 300-byte
 * manifest or record cost a 256 KiB allocation, and the garbage collector most of a rebuild's CPU.
 */
import type { ReadRange, StorageDriver } from '../../storage/contract.ts';
import type { Readable } from 'node:stream';
import { HindsightError } from '../../errors.ts';
import { openRecord } from '../../wal/archive-records.ts';
import type { z } from 'zod';
import type { DecryptionKey } from '../../crypto/chunked-gcm.ts';

/** No archive record comes near this (lib/wal/archive-records.ts refuses larger ones too). */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** The range of an object `size` bytes long, or the whole object when the size is unknown. */
export const listedRange = (size: number | undefined): ReadRange | undefined =>
  size === undefined ? undefined : { start: 0, end: size };

export function openListed(driver: StorageDriver, key: string, size: number | undefined): Promise<Readable> {
  return driver.openRead(key, listedRange(size));
}

/** The `size` bytes of a small object. */
export async function readListed(driver: StorageDriver, key: string, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await openListed(driver, key, size)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An archive record (base backup record, WAL index batch), decrypted and checked against `schema`. */
export async function readListedRecord<T>(
  driver: StorageDriver,
  object: { key: string; size: number },
  key: DecryptionKey,
  schema: z.ZodType<T>,
): Promise<T> {
  if (object.size > MAX_RECORD_BYTES)
    throw new HindsightError('integrity', `'${object.key}' is larger than any archive record`);
  return openRecord(object.key, await readListed(driver, object.key, object.size), key, schema);
}
