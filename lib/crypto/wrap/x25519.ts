import { createCipheriv, createDecipheriv, diffieHellman, generateKeyPairSync, hkdfSync } from 'node:crypto';
import { HindsightError } from '../../errors.ts';
import { contextBytes } from './context.ts';
import type { KeyUnwrapper, KeyWrapper, WrapContext, WrappedDataKey } from './types.ts';
import { RECIPIENT_PREFIX, publicKeyFromRecipient, rawPublicKey, type X25519Identity } from './x25519-keys.ts';

/**
 * The 'x25519' kind, after age's X25519 recipient: for every object an ephemeral X25519 key pair
 * is made, and the data key is sealed under
 *
 *   wrap key = HKDF-SHA256(IKM = X25519(ephemeral, recipient), salt = ephemeral public ‖ recipient
 *              public, info = "hindsight x25519 wrap v1", 32 bytes)
 *
 * with AES-256-GCM, a zero nonce (the wrap key is used once: the ephemeral key is new every time)
 * and the wrap context as associated data. `wrapped` is ephemeral public (32) ‖ ciphertext (32) ‖
 * tag (16). keyRef is the recipient (lib/crypto/wrap/x25519-keys.ts). Whoever has the recipient can
 * wrap; only the holder of its private key can unwrap.
 */
const INFO = 'hindsight x25519 wrap v1';
const PUBLIC_BYTES = 32;
const DATA_KEY_BYTES = 32;
const TAG_BYTES = 16;
export const X25519_WRAPPED_BYTES = PUBLIC_BYTES + DATA_KEY_BYTES + TAG_BYTES;
const ZERO_NONCE = Buffer.alloc(12);

function wrapKey(shared: Buffer, ephemeralPublic: Buffer, recipientPublic: Buffer): Buffer {
  // An all-zero shared secret means a low-order public key: nothing secret would protect the key.
  if (shared.every((byte) => byte === 0))
    throw new HindsightError('integrity', 'the X25519 exchange gave an all-zero secret: the header is damaged');
  const salt = Buffer.concat([ephemeralPublic, recipientPublic]);
  return Buffer.from(hkdfSync('sha256', shared, salt, INFO, 32));
}

export function x25519Wrapper(recipient: string): KeyWrapper {
  const recipientKey = publicKeyFromRecipient(recipient);
  const recipientPublic = rawPublicKey(recipientKey);
  return {
    kind: 'x25519',
    keyRef: recipient,
    wrap(dataKey: Buffer, context: WrapContext): Promise<WrappedDataKey> {
      const ephemeral = generateKeyPairSync('x25519');
      const ephemeralPublic = rawPublicKey(ephemeral.publicKey);
      const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipientKey });
      const cipher = createCipheriv('aes-256-gcm', wrapKey(shared, ephemeralPublic, recipientPublic), ZERO_NONCE);
      cipher.setAAD(contextBytes(context));
      const sealed = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
      return Promise.resolve({ kind: 'x25519', keyRef: recipient, wrapped: Buffer.concat([ephemeralPublic, sealed]) });
    },
  };
}

function noPrivateKey(recipient: string, held: readonly X25519Identity[]): HindsightError {
  const holding =
    held.length === 0
      ? 'no identity is at hand'
      : `the identities at hand are for ${held.map((i) => i.recipient).join(', ')}`;
  return new HindsightError(
    'access_denied',
    `this object is encrypted for recipient ${recipient} (public-key mode) and ${holding}: only the private key can decrypt it; run again with --identity <file> (the identity file hindsight key generate wrote for that recipient)`,
  );
}

/** Unwraps 'x25519' records for the recipients whose private keys it holds. */
export function x25519Unwrapper(identities: readonly X25519Identity[]): KeyUnwrapper {
  const byRecipient = new Map(identities.map((identity) => [identity.recipient, identity]));
  return {
    canUnwrap: (record) => record.kind === 'x25519' && byRecipient.has(record.keyRef),
    async unwrap(record: WrappedDataKey, context: WrapContext): Promise<Buffer> {
      const identity = byRecipient.get(record.keyRef);
      if (!identity) throw noPrivateKey(record.keyRef, identities);
      if (record.wrapped.length !== X25519_WRAPPED_BYTES) {
        throw new HindsightError(
          'integrity',
          `the wrapped data key is ${record.wrapped.length} bytes, not ${X25519_WRAPPED_BYTES}: the header is damaged`,
        );
      }
      const ephemeralPublic = record.wrapped.subarray(0, PUBLIC_BYTES);
      const ephemeralKey = publicKeyFromRecipient(`${RECIPIENT_PREFIX}${ephemeralPublic.toString('base64url')}`);
      const shared = diffieHellman({ privateKey: identity.privateKey, publicKey: ephemeralKey });
      const recipientPublic = publicKeyFromRecipient(identity.recipient);
      const key = wrapKey(shared, ephemeralPublic, rawPublicKey(recipientPublic));
      const decipher = createDecipheriv('aes-256-gcm', key, ZERO_NONCE);
      decipher.setAAD(contextBytes(context));
      decipher.setAuthTag(record.wrapped.subarray(PUBLIC_BYTES + DATA_KEY_BYTES));
      try {
        const body = record.wrapped.subarray(PUBLIC_BYTES, PUBLIC_BYTES + DATA_KEY_BYTES);
        return Buffer.concat([decipher.update(body), decipher.final()]);
      } catch {
        throw new HindsightError(
          'integrity',
          `the data key wrapped for recipient ${record.keyRef} failed authentication: the header was damaged, or copied from another object`,
        );
      }
    },
  };
}
