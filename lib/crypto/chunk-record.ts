import { hkdfSync } from 'node:crypto';
import type { BackupHeader } from './backup-header.ts';
import type { ObjectIdentity } from './object-identity.ts';
import type { KeyResolver, SecretKey } from './secret-key.ts';
import type { KeySources } from './wrap/registry.ts';
import { secretWrapper } from './wrap/secret.ts';
import type { KeyWrapper } from './wrap/types.ts';

/** What the encrypter (lib/crypto/chunked-gcm.ts) and the decrypter (decrypt-stream.ts) share. */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const LENGTH_BYTES = 4;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const HKDF_INFO = 'hindsight backup data key v1';

/**
 * What every decrypting entry point takes: one secret key, a keyring's resolver, or everything a
 * reader holds (the keyring and X25519 identities, lib/crypto/wrap/registry.ts).
 */
export type { KeyResolver };

export type DecryptionKey = SecretKey | KeyResolver | KeySources;

/** What every encrypting entry point takes: the secret key, or the wrapper of the data keys. */
export type EncryptionKey = SecretKey | KeyWrapper;

export function keySourcesOf(key: DecryptionKey): KeySources {
  return typeof key === 'function' || 'bytes' in key ? { secret: key } : key;
}

export function wrapperOf(key: EncryptionKey): KeyWrapper {
  return 'bytes' in key ? secretWrapper(key) : key;
}

export interface DecryptOptions {
  /** The identity the object must carry; any other is refused before a byte of plaintext. */
  expect?: ObjectIdentity;
  /**
   * Whether a version 1 object, which carries no identity, may stand in for `expect`: only when
   * the caller compares the object's SHA-256 with a record that storage cannot rewrite (the
   * catalog) before the plaintext is used.
   */
  acceptUnbound?: boolean;
  /** How messages name the object, e.g. its key in storage. */
  objectName?: string;
  /** Called with the header once it is read and checked, before its first chunk. */
  onHeader?: (header: BackupHeader) => void;
}

/** Versions 1 and 2: the data key derived from the secret key and the header's salt. */
export function derivedDataKey(key: SecretKey, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key.bytes, salt, HKDF_INFO, 32));
}

export function associatedData(header: Buffer, index: bigint, final: boolean): Buffer {
  const aad = Buffer.alloc(header.length + 9);
  header.copy(aad, 0);
  aad.writeBigUInt64BE(index, header.length);
  aad.writeUInt8(final ? 1 : 0, header.length + 8);
  return aad;
}
