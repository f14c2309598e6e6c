/**
 * Reads one compressed, encrypted PITR object whole (decrypt, zstd, hash): what a rebuild does for
 * a segment no index batch covers and for a timeline history. Decompression runs in this process
 * (node:zlib's zstd): a `zstd -d` child per object cost more than the object's own work, thousands
 * of times over. The bytes are kept only when asked for (a history is tiny; a segment is only
 * counted and hashed), and never more than MAX_KEPT_BYTES of them: the object is hostile input.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createZstdDecompress } from 'node:zlib';
import { ByteMeter } from '../../backup/byte-meter.ts';
import { DecryptStream, type DecryptionKey } from '../../crypto/chunked-gcm.ts';
import { pitrObjectIdentity } from '../../crypto/object-identity.ts';
import { HindsightError } from '../../errors.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import type { StoredObject } from '../../wal/segment-codec.ts';
import { proveObjectIdentity } from './header-proof.ts';
import { openListed } from './read-object.ts';

/** A timeline history is a few lines per timeline switch; anything near this is no history file. */
export const MAX_KEPT_BYTES = 1 << 20;

/**
 * Output buffer of the decompressor: a 16 MiB segment in 1 MiB pieces costs a third of the CPU it
 * costs in zlib's default 16 KiB ones (fewer callbacks, less garbage), for 1 MiB per object being read.
 */
const DECODE_CHUNK_BYTES = 1 << 20;

export interface DecodedObject extends StoredObject {
  content?: Buffer;
}

/** Keeps the bytes (up to MAX_KEPT_BYTES) or drops them. */
function sink(keep: boolean, chunks: Buffer[]): Writable {
  let kept = 0;
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!keep) return done();
      kept += chunk.length;
      if (kept > MAX_KEPT_BYTES)
        return done(new HindsightError('integrity', `it decodes to more than ${MAX_KEPT_BYTES} bytes`));
      chunks.push(chunk);
      done();
    },
  });
}

export async function decodeObject(
  driver: StorageDriver,
  objectKey: string,
  key: DecryptionKey,
  keep: boolean,
  size?: number,
): Promise<DecodedObject> {
  const stored = new ByteMeter();
  const raw = new ByteMeter();
  const chunks: Buffer[] = [];
  // As every PITR reader opens them (lib/wal/segment-codec.ts): a version 1 object, which binds no
  // identity, is still taken; its checksum is what the catalog then records.
  const decrypt = new DecryptStream(key, {
    expect: pitrObjectIdentity(objectKey),
    acceptUnbound: true,
    objectName: objectKey,
  });
  try {
    await pipeline(
      await openListed(driver, objectKey, size),
      stored,
      decrypt,
      createZstdDecompress({ chunkSize: DECODE_CHUNK_BYTES }),
      raw,
      sink(keep, chunks),
    );
  } catch (error) {
    // The header's own verdict (wrong key, another object's identity) is the reason worth
    // reporting when there is one; otherwise the stage that failed says why.
    await proveObjectIdentity(driver, objectKey, key, pitrObjectIdentity(objectKey), { acceptUnbound: true, size });
    throw error;
  }
  const decoded = {
    rawBytes: raw.bytes,
    rawSha256: raw.sha256,
    storedBytes: stored.bytes,
    storedSha256: stored.sha256,
  };
  return keep ? { ...decoded, content: Buffer.concat(chunks) } : decoded;
}
