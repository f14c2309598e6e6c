import { MAX_HEADER_BYTES, decodeHeader } from './backup-header.ts';
import type { WrappedDataKey } from './wrap/types.ts';
import type { StorageDriver } from '../storage/contract.ts';

/**
 * How the object's data key is wrapped (its kind and key reference: the recipient in public-key
 * mode), read from the header alone: the first bytes, no key needed. Undefined for objects whose
 * header carries no record (older versions, sealed by the secret key). Throws when the object
 * cannot be read or its header is damaged.
 */
export async function wrappedKeyRecord(driver: StorageDriver, objectKey: string): Promise<WrappedDataKey | undefined> {
  const parts: Buffer[] = [];
  const size = (await driver.stat(objectKey))?.size ?? 0;
  for await (const part of await driver.openRead(objectKey, { start: 0, end: Math.min(size, MAX_HEADER_BYTES) }))
    parts.push(part as Buffer);
  return decodeHeader(Buffer.concat(parts)).wrappedKey;
}
