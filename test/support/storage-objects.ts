/**
 * The steps the storage driver tests take on objects beside the contract suite: writing one,
 * listing keys, and closing a driver whatever the test did.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StorageDriver } from '../../lib/storage/contract.ts';

function* chunksOf(body: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < body.length; at += size) yield body.subarray(at, at + size);
}

/** Writes `body` under `key` in 64 KiB chunks, as a dump arrives, and commits it. */
export async function putObject(driver: StorageDriver, key: string, body: Buffer): Promise<void> {
  const write = await driver.openWrite(key);
  await pipeline(Readable.from(chunksOf(body, 64 * 1024)), write.stream);
  await write.commit();
}

/** The keys the driver lists under `prefix`, in its order. */
export async function listedKeys(driver: StorageDriver, prefix: string): Promise<string[]> {
  return (await driver.list(prefix)).map((o) => o.key);
}

/** Runs `body` with `driver` and closes the driver after, whether `body` passed or threw. */
export async function closingAfter<T>(driver: StorageDriver, body: (driver: StorageDriver) => Promise<T>): Promise<T> {
  try {
    return await body(driver);
  } finally {
    await driver.close?.();
  }
}
