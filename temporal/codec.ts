import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { SecretKey } from '../lib/crypto/secret-key.ts';
import { HindsightError } from '../lib/errors.ts';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

interface PayloadKey {
  id: string;
  key: Buffer;
}

/** A key of its own for Temporal payloads, derived from the secret key and named by its id. */
export function payloadKeyOf(secret: SecretKey): PayloadKey {
  return { id: secret.id, key: Buffer.from(hkdfSync('sha256', secret.bytes, Buffer.alloc(0), 'hindsight temporal payloads v1', 32)) };
}

const text = (value: string) => new TextEncoder().encode(value);

/**
 * Encrypts every payload that reaches Temporal (workflow inputs and results, activity arguments
 * and results, signals, queries, heartbeats) with AES-256-GCM. The key id travels in the payload's
 * metadata, so after a rotation payloads written under an earlier key still decode as long as that
 * key is given as a previous one. Payloads that are not ours (a workflow started by hand from the
 * temporal CLI with plain JSON) pass through undecoded.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly current: PayloadKey;
  private readonly byId: Map<string, PayloadKey>;

  constructor(current: SecretKey, previous: SecretKey[] = []) {
    this.current = payloadKeyOf(current);
    this.byId = new Map([current, ...previous].map((k) => [k.id, payloadKeyOf(k)]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const plain = proto.temporal.api.common.v1.Payload.encode(payload).finish();
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce);
      cipher.setAAD(Buffer.from(this.current.id));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: { encoding: text(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text(this.current.id) },
        data: Buffer.concat([nonce, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding ? Buffer.from(payload.metadata.encoding).toString() : undefined;
      if (encoding !== ENCRYPTED_ENCODING) return payload;
      const keyId = payload.metadata?.[KEY_ID_METADATA] ? Buffer.from(payload.metadata[KEY_ID_METADATA]).toString() : '';
      const key = this.byId.get(keyId);
      if (!key) {
        throw new HindsightError('access_denied', `a Temporal payload is encrypted with key ${keyId || '(none)'}, but the keys at hand are ${[...this.byId.keys()].join(', ')} (add the earlier key to HINDSIGHT_PREVIOUS_SECRET_KEY_FILES)`);
      }
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < NONCE_BYTES + TAG_BYTES) throw new HindsightError('integrity', 'an encrypted Temporal payload is too short');
      const decipher = createDecipheriv('aes-256-gcm', key.key, data.subarray(0, NONCE_BYTES));
      decipher.setAAD(Buffer.from(key.id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new HindsightError('integrity', `an encrypted Temporal payload (key ${key.id}) failed authentication`);
      }
      return proto.temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
