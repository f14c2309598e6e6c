/**
 * Reads one compressed, encrypted PITR object whole (decrypt, `zstd -d`, hash): what a rebuild does
 * for a segment no index batch covers and for a timeline history. The bytes are kept only when
 * asked for (a history is tiny; a segment is only counted and hashed).
 */
import type { DecryptionKey } from '../../crypto/chunked-gcm.ts';
import { pitrObjectIdentity } from '../../crypto/object-identity.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import { openDecoded, type StoredObject } from '../../wal/segment-codec.ts';
import { proveObjectIdentity } from './header-proof.ts';

export interface DecodedObject extends StoredObject {
  content?: Buffer;
}

export async function decodeObject(
  driver: StorageDriver,
  objectKey: string,
  key: DecryptionKey,
  keep: boolean,
): Promise<DecodedObject> {
  try {
    const { stream, done } = await openDecoded({ driver, objectKey, key });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) if (keep) chunks.push(chunk as Buffer);
    const stored = await done;
    return keep ? { ...stored, content: Buffer.concat(chunks) } : stored;
  } catch (error) {
    // zstd may fail on the cut-off input before the decrypter's error arrives: the header's own
    // verdict (wrong key, another object's identity) is the reason worth reporting, when there is one.
    await proveObjectIdentity(driver, objectKey, key, pitrObjectIdentity(objectKey), { acceptUnbound: true });
    throw error;
  }
}
