/**
 * The WAL stream asks for its key before each object: a rotated secret key applies at once, and a
 * change of the database's encryption once the setting is read again (at most every refreshMs).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateSecretKey, type SecretKey } from '../../lib/crypto/secret-key.ts';
import { liveEncryptionKey } from '../../lib/crypto/wrap/database-key.ts';
import { recipientOf } from '../../lib/crypto/wrap/x25519-keys.ts';

type Setting = { encryption: { recipient: string | null; kms: string | null } };

describe('the key of a long-running WAL stream', () => {
  it('follows a key rotation from the next object', async () => {
    let current = generateSecretKey();
    const key = liveEncryptionKey(
      async (): Promise<Setting> => ({ encryption: { recipient: null, kms: null } }),
      () => current,
    );
    assert.equal(((await key()) as SecretKey).id, current.id);
    const before = current.id;
    current = generateSecretKey();
    const after = (await key()) as SecretKey;
    assert.equal(after.id, current.id, 'the rotated key');
    assert.notEqual(after.id, before);
  });

  it("follows a change of the database's encryption once the setting is read again", async () => {
    const recipient = recipientOf(generateKeyPairSync('x25519').publicKey);
    let setting: Setting = { encryption: { recipient: null, kms: null } };
    let reads = 0;
    const secret = generateSecretKey();
    const key = liveEncryptionKey(
      async () => {
        reads += 1;
        return setting;
      },
      () => secret,
      50,
    );
    assert.equal(((await key()) as SecretKey).id, secret.id);
    setting = { encryption: { recipient, kms: null } };
    assert.equal(((await key()) as SecretKey).id, secret.id, 'within refreshMs the read setting stands');
    assert.equal(reads, 1, 'one catalog read for both objects');
    await new Promise((resolve) => setTimeout(resolve, 60));
    const wrapper = await key();
    assert.ok('keyRef' in wrapper && wrapper.keyRef === recipient, 'public-key mode from the next object on');
    assert.equal(reads, 2);
  });
});
