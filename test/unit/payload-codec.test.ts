import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import {
  decodeOptionalFailureToOptionalError,
  encodeErrorToFailure,
} from '@temporalio/common/lib/internal-non-workflow/index.js';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import { hindsightDataConverter } from '../../temporal/client.ts';
import { EncryptionCodec, KEY_ID_METADATA, plaintextRefusal } from '../../temporal/codec.ts';
import { PLAINTEXT_REFUSED } from '../../temporal/failure-converter.ts';

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
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), {
      database: 'payroll',
      url: 'postgres://admin@db.internal/payroll',
    });
  });

  it('refuses a payload it did not encrypt (plain JSON typed into the temporal CLI), naming the way that works', async () => {
    const codec = new EncryptionCodec(newKey());
    const [sealed] = await codec.encode([payload({ database: 'demo' })]);
    for (const plain of [
      payload({ database: 'demo' }),
      payload(undefined),
      { metadata: {}, data: Buffer.from('{}') },
    ]) {
      await assert.rejects(codec.decode([sealed!, plain]), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.type, PLAINTEXT_REFUSED);
        assert.equal(error.nonRetryable, true);
        assert.match(
          error.message,
          /not encrypted with this installation's key.*--codec-endpoint .*--codec-auth 'Bearer/,
        );
        assert.ok(!error.message.includes('demo'), 'the refusal holds nothing of the payload');
        return true;
      });
    }
    assert.deepEqual(await codec.decode([]), [], 'no payload at all (a workflow without input) is not a refusal');
  });

  it('passes plaintext through only where asked to (the codec endpoint shows history to an operator)', async () => {
    const plain = payload({ database: 'demo' });
    assert.deepEqual(await new EncryptionCodec(newKey(), [], { plaintext: 'pass' }).decode([plain]), [plain]);
  });

  it('reads payloads of an earlier key after a rotation, and names a key it lacks', async () => {
    const old = newKey();
    const [sealed] = await new EncryptionCodec(old).encode([payload('before rotation')]);
    const rotated = new EncryptionCodec(newKey(), [old]);
    assert.equal(defaultPayloadConverter.fromPayload((await rotated.decode([sealed!]))[0]!), 'before rotation');
    const [fresh] = await rotated.encode([payload('after')]);
    assert.notEqual(Buffer.from(fresh!.metadata![KEY_ID_METADATA]!).toString(), old.id, 'new payloads use the new key');
    await assert.rejects(
      new EncryptionCodec(newKey()).decode([sealed!]),
      new RegExp(`encrypted with key ${old.id}.*HINDSIGHT_PREVIOUS_SECRET_KEY_FILES`),
    );
  });

  it('refuses a payload whose ciphertext was altered', async () => {
    const codec = new EncryptionCodec(newKey());
    const [sealed] = await codec.encode([payload('x'.repeat(100))]);
    const data = Buffer.from(sealed!.data!);
    data[20]! ^= 1;
    await assert.rejects(codec.decode([{ ...sealed!, data }]), /failed authentication/);
  });
});

describe('Temporal failure converter', () => {
  const key = newKey();
  const converter = hindsightDataConverter({ key, previousKeys: [] });

  it("puts a failure's message and stack trace into history encrypted, and reads them back with the key", async () => {
    const secret = 'pg_restore: error: could not connect to db.internal:5432 as payroll_admin';
    const cause = new Error(`${secret} (cause)`);
    const failure = await encodeErrorToFailure(
      converter,
      ApplicationFailure.create({ message: secret, type: 'ToolFailed', cause }),
    );
    const raw = JSON.stringify(failure, (_k, v: unknown) =>
      v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v,
    );
    assert.equal(failure.message, 'Encoded failure');
    assert.equal(failure.applicationFailureInfo?.type, 'ToolFailed', 'the type stays readable for retry policies');
    for (const leak of ['db.internal', 'payroll_admin', 'payload-codec.test'])
      assert.ok(!raw.includes(leak), `${leak} is readable in the failure`);
    assert.equal(Buffer.from(failure.encodedAttributes!.metadata!.encoding!).toString(), 'binary/encrypted');
    const decoded = await decodeOptionalFailureToOptionalError(converter, failure);
    assert.equal(decoded?.message, secret);
    assert.equal((decoded?.cause as Error | undefined)?.message, `${secret} (cause)`);
    const foreign = hindsightDataConverter({ key: newKey(), previousKeys: [] });
    await assert.rejects(
      decodeOptionalFailureToOptionalError(foreign, failure),
      /encrypted with key/,
      'another installation cannot read it',
    );
  });

  it('leaves the refusal of a plaintext payload readable: it holds nothing of the payload, and its reader has no key', async () => {
    const failure = await encodeErrorToFailure(converter, plaintextRefusal());
    assert.match(failure.message ?? '', /not encrypted with this installation's key/);
    assert.equal(failure.encodedAttributes, undefined);
  });
});
