/**
 * Proves with the key that an encrypted object is what its name says, without reading it whole:
 * the identity sits in the header, and the header is part of every chunk's authenticated data, so
 * the first chunk that decrypts proves it. A manifest is plain JSON anyone with write access could
 * edit; this is what a rebuild trusts instead.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DecryptStream, type DecryptionKey } from '../../crypto/chunked-gcm.ts';
import type { ObjectIdentity } from '../../crypto/object-identity.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import { openListed } from './read-object.ts';

/** Resolves when the header of `objectKey` authenticates as `identity`; throws the reason otherwise. */
export async function proveObjectIdentity(
  driver: StorageDriver,
  objectKey: string,
  key: DecryptionKey,
  identity: ObjectIdentity,
  options: { acceptUnbound?: boolean; size?: number | undefined } = {},
): Promise<void> {
  const stop = new AbortController();
  let proven = false;
  const firstChunk = new Writable({
    write(_chunk, _encoding, done) {
      proven = true;
      stop.abort();
      done();
    },
  });
  try {
    await pipeline(
      await openListed(driver, objectKey, options.size),
      new DecryptStream(key, {
        expect: identity,
        objectName: objectKey,
        acceptUnbound: options.acceptUnbound ?? false,
      }),
      firstChunk,
      { signal: stop.signal },
    );
  } catch (error) {
    if (!proven) throw error;
  }
}
