/**
 * The corruptions of the matrix (docs/testing.md, "Corrupted objects"): each turns the stored bytes
 * of an object into what a damaged, cut, emptied or swapped storage would hold, or (wrong key) leaves
 * them and hands the reader a key that encrypted nothing of it. Each says which words a refusal of it
 * must use, so that a refusal for some other reason does not pass.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readAll } from '../../lib/storage/shared/streams.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';

export type CorruptionName = 'truncated' | 'flip-middle' | 'flip-header' | 'swapped' | 'zero-length' | 'wrong-key';

export interface Corruption {
  name: CorruptionName;
  /** The stored bytes after the damage; `sibling` is another object of the same kind. */
  apply(bytes: Buffer, sibling: Buffer): Buffer;
  /** Whether the reader is given a key other than the one that encrypted the objects. */
  wrongKey: boolean;
}

const flipAt = (bytes: Buffer, at: number): Buffer => {
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ 0x5a;
  return copy;
};

/**
 * The header of an encrypted object starts with its fixed fields and identity (docs/backup-format.md);
 * byte 20 is inside the identity (version 3; in the salt in version 2). A JSON object's header is its first bytes: byte 0 is its opening brace.
 */
const headerByte = (bytes: Buffer) => (bytes.subarray(0, 4).toString('latin1') === 'HSBK' ? 20 : 0);

export const CORRUPTIONS: readonly Corruption[] = [
  { name: 'truncated', apply: (b) => b.subarray(0, Math.floor(b.length / 2)), wrongKey: false },
  { name: 'flip-middle', apply: (b) => flipAt(b, Math.floor(b.length / 2)), wrongKey: false },
  { name: 'flip-header', apply: (b) => flipAt(b, headerByte(b)), wrongKey: false },
  { name: 'swapped', apply: (_b, sibling) => sibling, wrongKey: false },
  { name: 'zero-length', apply: () => Buffer.alloc(0), wrongKey: false },
  { name: 'wrong-key', apply: (b) => b, wrongKey: true },
];

/** Replaces an object's stored bytes through the driver (as any writer to the storage could). */
export async function storeBytes(driver: StorageDriver, key: string, bytes: Buffer): Promise<void> {
  const write = await driver.openWrite(key);
  await pipeline(Readable.from([bytes]), write.stream);
  await write.commit();
}

export async function storedBytes(driver: StorageDriver, key: string): Promise<Buffer> {
  return readAll(await driver.openRead(key));
}

/**
 * Runs `body` with object `key` corrupted by `corruption` (its bytes replaced by those of `sibling`
 * when swapped), then puts the original bytes back, whatever happened.
 */
export async function withCorrupted<T>(
  driver: StorageDriver,
  target: { key: string; sibling: string },
  corruption: Corruption,
  body: () => Promise<T>,
): Promise<T> {
  const original = await storedBytes(driver, target.key);
  const sibling = corruption.name === 'swapped' ? await storedBytes(driver, target.sibling) : Buffer.alloc(0);
  await storeBytes(driver, target.key, corruption.apply(original, sibling));
  try {
    return await body();
  } finally {
    await storeBytes(driver, target.key, original);
  }
}
