import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { HindsightError } from '../../errors.ts';
import type { KeyResolver, SecretKey } from '../secret-key.ts';
import { contextBytes } from './context.ts';
import type { KeyUnwrapper, KeyWrapper, WrapContext, WrappedDataKey } from './types.ts';

/**
 * The 'secret' kind: the data key sealed with AES-256-GCM under a key-encryption key derived from
 * the installation's secret key, HKDF-SHA256(secret key, no salt, "hindsight data key wrap v1").
 * `wrapped` is nonce (12) ‖ ciphertext (32) ‖ tag (16); the associated data is the wrap context.
 * keyRef is the secret key's id, so the keyring finds the key as it does for versions 1 and 2.
 */
const KEK_INFO = 'hindsight data key wrap v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const DATA_KEY_BYTES = 32;
export const SECRET_WRAPPED_BYTES = NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES;

function keyEncryptionKey(key: SecretKey): Buffer {
  return Buffer.from(hkdfSync('sha256', key.bytes, Buffer.alloc(0), KEK_INFO, 32));
}

export function secretWrapper(key: SecretKey): KeyWrapper {
  const kek = keyEncryptionKey(key);
  return {
    kind: 'secret',
    keyRef: key.id,
    wrap(dataKey: Buffer, context: WrapContext): Promise<WrappedDataKey> {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', kek, nonce);
      cipher.setAAD(contextBytes(context));
      const sealed = Buffer.concat([cipher.update(dataKey), cipher.final()]);
      const wrapped = Buffer.concat([nonce, sealed, cipher.getAuthTag()]);
      return Promise.resolve({ kind: 'secret', keyRef: key.id, wrapped });
    },
  };
}

/** Unwraps 'secret' records with the key the record names, found by one key or a keyring's resolver. */
export function secretUnwrapper(keys: SecretKey | KeyResolver): KeyUnwrapper {
  const find = (keyId: string): SecretKey => {
    const key = typeof keys === 'function' ? keys(keyId) : keys;
    if (key.id !== keyId) {
      throw new HindsightError(
        'access_denied',
        `backup was encrypted with key ${keyId}, but the key in use is ${key.id}: use the secret.key that wrote it (--key <file>)`,
      );
    }
    return key;
  };
  return {
    canUnwrap: (record) => record.kind === 'secret',
    async unwrap(record: WrappedDataKey, context: WrapContext): Promise<Buffer> {
      const kek = keyEncryptionKey(find(record.keyRef));
      if (record.wrapped.length !== SECRET_WRAPPED_BYTES) {
        throw new HindsightError(
          'integrity',
          `the wrapped data key is ${record.wrapped.length} bytes, not ${SECRET_WRAPPED_BYTES}: the header is damaged`,
        );
      }
      const decipher = createDecipheriv('aes-256-gcm', kek, record.wrapped.subarray(0, NONCE_BYTES));
      decipher.setAAD(contextBytes(context));
      decipher.setAuthTag(record.wrapped.subarray(NONCE_BYTES + DATA_KEY_BYTES));
      try {
        const body = record.wrapped.subarray(NONCE_BYTES, NONCE_BYTES + DATA_KEY_BYTES);
        return Buffer.concat([decipher.update(body), decipher.final()]);
      } catch {
        throw new HindsightError(
          'integrity',
          `the data key wrapped with secret key ${record.keyRef} failed authentication: the header was damaged, or copied from another object`,
        );
      }
    },
  };
}
