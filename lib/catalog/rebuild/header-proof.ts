/**
 * Proves with the key that an encrypted object is what its name says, without reading it whole:
 * the identity sits in the header, and the header is part of every chunk's authenticated data, so
 * the first chunk that decrypts proves it. A manifest is plain JSON anyone with write access could
 * edit; this is what a rebuild trusts instead. The read stops at that chunk by destroying the
 * streams, not by aborting a pipeline: an abort builds an error (and its stack) per object, which
 * at 100,000 objects cost more than the decryption.
 */
import type { Readable } from 'node:stream';
import { DecryptStream, type DecryptionKey } from '../../crypto/chunked-gcm.ts';
import type { ObjectIdentity } from '../../crypto/object-identity.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import { openListed } from './read-object.ts';

/** Settles at the first plaintext chunk (or the end of an object without one); rejects on an error before. */
function firstChunk(source: Readable, decrypt: DecryptStream): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      source.unpipe(decrypt);
      source.destroy();
      decrypt.destroy();
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error(String(error)));
    };
    decrypt.once('data', () => settle());
    decrypt.once('end', () => settle());
    decrypt.once('error', settle);
    source.once('error', settle);
    source.pipe(decrypt);
  });
}

/**
 * Resolves when the header of `objectKey` authenticates as `identity`; throws the reason otherwise.
 * `size`, the object's size in the listing, bounds the read to the object as listed.
 */
export async function proveObjectIdentity(
  driver: StorageDriver,
  objectKey: string,
  key: DecryptionKey,
  identity: ObjectIdentity,
  options: { acceptUnbound?: boolean; size?: number | undefined } = {},
): Promise<void> {
  const source = await openListed(driver, objectKey, options.size);
  const decrypt = new DecryptStream(key, {
    expect: identity,
    objectName: objectKey,
    acceptUnbound: options.acceptUnbound ?? false,
  });
  await firstChunk(source, decrypt);
}
