/**
 * Reads one compressed, encrypted PITR object whole (decrypt, `zstd -d`, hash): what a rebuild does
 * for a segment no index batch covers and for a timeline history. The bytes are kept only when
 * asked for (a history is tiny; a segment is only counted and hashed).
 */
import type { DecryptionKey } from '../../crypto/chunked-gcm.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import { openDecoded, type StoredObject } from '../../wal/segment-codec.ts';

export interface DecodedObject extends StoredObject {
  content?: Buffer;
}

export async function decodeObject(
  driver: StorageDriver,
  objectKey: string,
  key: DecryptionKey,
  keep: boolean,
): Promise<DecodedObject> {
  const { stream, done } = await openDecoded({ driver, objectKey, key });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) if (keep) chunks.push(chunk as Buffer);
  const stored = await done;
  return keep ? { ...stored, content: Buffer.concat(chunks) } : stored;
}
