import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { HindsightError } from '../errors.ts';
import type { KeyResolver } from './chunked-gcm.ts';
import type { SecretKey } from './secret-key.ts';

/**
 * Secrets at rest in the catalog (database passwords, storage keys): AES-256-GCM with a random
 * 96-bit nonce under a key derived from the secret key, so the catalog alone reveals nothing.
 * Format: `v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`. The context (for example
 * `database:demo`) is authenticated, so a sealed value cannot be moved to another record.
 */
const version = 'v1';

function sealingKey(key: SecretKey): Buffer {
  return Buffer.from(hkdfSync('sha256', key.bytes, Buffer.alloc(0), 'hindsight catalog secret v1', 32));
}

export function seal(key: SecretKey, plaintext: string, context: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(key), nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${version}.${key.id}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64')}`;
}

/** The key id a sealed value names, without opening it (`hindsight key list` counts them). */
export function sealedKeyId(sealed: string): string | undefined {
  const [v, keyId, payload] = sealed.split('.');
  return v === version && keyId && payload ? keyId : undefined;
}

/** Opens a sealed value with the key it names: one key, or a keyring's resolver after rotations. */
export function unseal(keys: SecretKey | KeyResolver, sealed: string, context: string): string {
  const [v, keyId, payload] = sealed.split('.');
  if (v !== version || !keyId || !payload) {
    throw new HindsightError('integrity', `sealed secret for ${context} is malformed`);
  }
  const key = typeof keys === 'function' ? keys(keyId) : keys;
  if (keyId !== key.id) {
    throw new HindsightError(
      'access_denied',
      `secret for ${context} was sealed with key ${keyId}, but the secret key in use is ${key.id}: use the secret.key this catalog was created with`,
    );
  }
  const raw = Buffer.from(payload, 'base64');
  if (raw.length < 28) throw new HindsightError('integrity', `sealed secret for ${context} is truncated`);
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(key), raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  try {
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    throw new HindsightError(
      'integrity',
      `sealed secret for ${context} failed authentication (tampered, or sealed for another record)`,
    );
  }
}

/** The same secret sealed under another key (a rotation); the context stays bound to it. */
export function reseal(keys: SecretKey | KeyResolver, to: SecretKey, sealed: string, context: string): string {
  return seal(to, unseal(keys, sealed, context), context);
}
