import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StorageDriver } from '../contract.ts';

/** Plain JSON at `key` (a manifest), committed in one step or not at all. */
export async function writeJsonObject(driver: StorageDriver, key: string, value: unknown): Promise<void> {
  const write = await driver.openWrite(key);
  try {
    await pipeline(Readable.from([Buffer.from(`${JSON.stringify(value, null, 2)}\n`)]), write.stream);
    await write.commit();
  } catch (error) {
    await write.abort();
    throw error;
  }
}
