import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { EncryptionCodec, KEY_ID_METADATA, type PlaintextPolicy } from './codec.ts';

/**
 * The payload codec over a keyring: it encodes under the current key and decodes under any key
 * of the ring. After a rotation (by this process or another) the codec is rebuilt with the new
 * set of keys, so a running worker, console or CLI follows the rotation without a restart.
 */
export class KeyringCodec implements PayloadCodec {
  private built: { signature: string; codec: EncryptionCodec } | undefined;

  private readonly keyring: Keyring;
  private readonly plaintext: PlaintextPolicy;
  constructor(keyring: Keyring, plaintext: PlaintextPolicy) {
    this.keyring = keyring;
    this.plaintext = plaintext;
  }

  private codec(): EncryptionCodec {
    const entries = this.keyring.entries();
    const signature = entries.map((e) => `${e.current ? '*' : ''}${e.key.id}`).join(',');
    if (this.built?.signature !== signature) {
      const current = entries.find((e) => e.current)!.key;
      this.built = {
        signature,
        codec: new EncryptionCodec(
          current,
          entries.filter((e) => !e.current).map((e) => e.key),
          { plaintext: this.plaintext },
        ),
      };
    }
    return this.built.codec;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return this.codec().encode(payloads);
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    // A payload written under a key this process has not read yet (another process rotated):
    // resolving it makes the keyring read its files again. A key that stays unknown is left to
    // the codec's own error, which names it.
    for (const payload of payloads) {
      const keyId = payload.metadata?.[KEY_ID_METADATA];
      if (!keyId) continue;
      try {
        this.keyring.resolve(Buffer.from(keyId).toString());
      } catch {
        // named by EncryptionCodec.decode below
      }
    }
    return this.codec().decode(payloads);
  }
}
