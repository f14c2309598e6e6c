import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import { EncryptionCodec, KEY_ID_METADATA } from '../../temporal/codec.ts';

const newKey = () => secretKeyFromBytes(randomBytes(32));
const payload = (value: unknown) => defaultPayloadConverter.toPayload(value);

describe('Temporal payload codec', () => {
  it('round-trips payloads and leaves no plaintext in what it encodes', async () => {
    const codec = new EncryptionCodec(newKey());
    const original = payload({ database: 'payroll', url: 'postgres://admin@db.internal/payroll' });
    const [encoded] = await codec.encode([original]);
    assert.ok(!Buffer.from(encoded!.data!).toString('latin1').includes('payroll'));
    assert.equal(Buffer.from(encoded!.metadata!.encoding!).toString(), 'binary/encrypted');
    const [decoded] = await codec.decode([encoded!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), { database: 'payroll', url: 'postgres://admin@db.internal/payroll' });
  });

  it('passes payloads it did not encrypt through (inputs typed into the temporal CLI)', async () => {
    const plain = payload({ database: 'demo' });
    assert.deepEqual(await new EncryptionCodec(newKey()).decode([plain]), [plain]);
  });

  it('reads payloads of an earlier key after a rotation, and names a key it lacks', async () => {
    const old = newKey();
    const [sealed] = await new EncryptionCodec(old).encode([payload('before rotation')]);
    const rotated = new EncryptionCodec(newKey(), [old]);
    assert.equal(defaultPayloadConverter.fromPayload((await rotated.decode([sealed!]))[0]!), 'before rotation');
    const [fresh] = await rotated.encode([payload('after')]);
    assert.notEqual(Buffer.from(fresh!.metadata![KEY_ID_METADATA]!).toString(), old.id, 'new payloads use the new key');
    await assert.rejects(new EncryptionCodec(newKey()).decode([sealed!]), new RegExp(`encrypted with key ${old.id}.*HINDSIGHT_PREVIOUS_SECRET_KEY_FILES`));
  });

  it('refuses a payload whose ciphertext was altered', async () => {
    const codec = new EncryptionCodec(newKey());
    const [sealed] = await codec.encode([payload('x'.repeat(100))]);
    const data = Buffer.from(sealed!.data!);
    data[20]! ^= 1;
    await assert.rejects(codec.decode([{ ...sealed!, data }]), /failed authentication/);
  });
});
