import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ApplicationFailure, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { SecretKey } from '../lib/crypto/secret-key.ts';
import { HindsightError } from '../lib/errors.ts';
import { PLAINTEXT_REFUSED } from './failure-converter.ts';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

interface PayloadKey {
  id: string;
  key: Buffer;
}

/**
 * What decode does with a payload that is not encrypted with an installation key.
 * - `refuse`: every worker and client of Hindsight. Temporal is a control plane, not a trust
 *   boundary: anyone who reaches its frontend can start a workflow or send a signal, but only a
 *   holder of the key (or of the codec endpoint's token, which encrypts for them) can write a
 *   payload that decodes, so only they can make the worker act or a client believe a result.
 * - `pass`: the codec endpoint's /decode only, which shows history to an operator holding the
 *   token: a refused run's plaintext input must still be readable there, and nothing acts on it.
 */
export type PlaintextPolicy = 'refuse' | 'pass';

/** A key of its own for Temporal payloads, derived from the secret key and named by its id. */
export function payloadKeyOf(secret: SecretKey): PayloadKey {
  return {
    id: secret.id,
    key: Buffer.from(hkdfSync('sha256', secret.bytes, Buffer.alloc(0), 'hindsight temporal payloads v1', 32)),
  };
}

const text = (value: string) => new TextEncoder().encode(value);

/**
 * The refusal names no byte of the payload, so it is safe to keep in clear in history, where whoever
 * started the run without the key can read why it does not run.
 */
export function plaintextRefusal(): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    "workflow input is not encrypted with this installation's key (every workflow input, signal, query and update argument must be): " +
      "start workflows with hindsight, or with the temporal CLI and --codec-endpoint <console URL>/codec --codec-auth 'Bearer <codec token>'",
    PLAINTEXT_REFUSED,
  );
}

/**
 * Encrypts every payload that reaches Temporal (workflow inputs and results, activity arguments
 * and results, signals, queries, updates, heartbeats, failure messages) with AES-256-GCM. The key
 * id travels in the payload's metadata, so after a rotation payloads written under an earlier key
 * still decode as long as that key is given as a previous one. GCM authenticates the payload, so a
 * payload that decodes was written by a holder of an installation key.
 *
 * Temporal's own payloads never reach decode: search attributes and headers are skipped by the
 * SDK, and Core consumes its patch markers itself.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly current: PayloadKey;
  private readonly byId: Map<string, PayloadKey>;
  private readonly plaintext: PlaintextPolicy;

  constructor(current: SecretKey, previous: SecretKey[] = [], options: { plaintext?: PlaintextPolicy } = {}) {
    this.current = payloadKeyOf(current);
    this.byId = new Map([current, ...previous].map((k) => [k.id, payloadKeyOf(k)]));
    this.plaintext = options.plaintext ?? 'refuse';
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
      if (encoding !== ENCRYPTED_ENCODING) {
        if (this.plaintext === 'refuse') throw plaintextRefusal();
        return payload;
      }
      return this.decrypt(payload);
    });
  }

  private decrypt(payload: Payload): Payload {
    const keyId = payload.metadata?.[KEY_ID_METADATA] ? Buffer.from(payload.metadata[KEY_ID_METADATA]).toString() : '';
    const key = this.byId.get(keyId);
    if (!key) {
      throw new HindsightError(
        'access_denied',
        `a Temporal payload is encrypted with key ${keyId || '(none)'}, but the keys at hand are ${[...this.byId.keys()].join(', ')} (add the earlier key to HINDSIGHT_PREVIOUS_SECRET_KEY_FILES)`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES)
      throw new HindsightError('integrity', 'an encrypted Temporal payload is too short');
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
  }
}
