import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type AwsKmsConfig } from '../../lib/crypto/wrap/kms/config.ts';
import { kmsWrapper, type KmsWrapper } from '../../lib/crypto/wrap/kms/index.ts';
import type { WrapContext } from '../../lib/crypto/wrap/types.ts';
import { HindsightError } from '../../lib/errors.ts';
import { jsonLinesLogger } from '../support/json-log.ts';
import { kmsAdmin, type KmsAdmin } from '../support/kms-moto.ts';
import { freePort } from '../support/ports.ts';
import { scan } from '../support/secret-scan.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';

// The 'aws-kms' wrapping against moto's KMS (the same moto_server that serves S3 in other files).

const context: WrapContext = { database: 'shop', backup: 'b-0001', object: 'base/0001.tar' };
const otherObject: WrapContext = { ...context, object: 'base/0002.tar' };

/** Every refusal's message and cause, scanned for credentials at the end. */
const refusalTexts: string[] = [];

/** The refusal, with its kind and message, of a promise expected to fail. */
async function refusal(promise: Promise<unknown>): Promise<HindsightError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HindsightError, `expected a HindsightError, got ${String(error)}`);
    refusalTexts.push(error.message, String(error.cause), error.stack ?? '');
    return error;
  }
  assert.fail('expected the KMS operation to be refused');
}

describe('aws-kms wrapping on moto', () => {
  let moto: MotoServer;
  let admin: KmsAdmin;
  const wrappers: KmsWrapper[] = [];
  const logLines: Array<Record<string, unknown>> = [];
  const credentials = {
    accessKeyId: 'AKIAKMSWRAPTEST',
    secretAccessKey: randomBytes(20).toString('hex'),
    sessionToken: randomBytes(24).toString('base64'),
  };
  const wrapperFor = (keyId: string, overrides: Partial<AwsKmsConfig> = {}): KmsWrapper => {
    const wrapper = kmsWrapper(
      { provider: 'aws', keyId, region: moto.region, endpoint: moto.endpoint, ...credentials, ...overrides },
      { logger: jsonLinesLogger(logLines) },
    );
    wrappers.push(wrapper);
    return wrapper;
  };

  before(async () => {
    moto = await startMoto();
    admin = kmsAdmin(moto);
  });
  after(async () => {
    await Promise.all(wrappers.map((w) => w.close()));
    admin?.close();
    await moto?.stop();
  });

  it('wraps a data key under the key and unwraps it with the same context', async () => {
    const arn = await admin.createKey();
    const wrapper = wrapperFor(arn);
    const dataKey = randomBytes(32);
    const record = await wrapper.wrap(dataKey, context);
    assert.equal(record.kind, 'aws-kms');
    assert.equal(record.keyRef, arn);
    assert.equal(record.wrapped.includes(dataKey), false, 'the wrapped key must not hold the data key in clear');
    assert.deepEqual(await wrapper.unwrap(record, context), dataKey);
    // Another wrapper with only the key's ARN opens it too: storage and key are enough, no catalog state.
    assert.deepEqual(
      await wrapperFor(arn).unwrap({ ...record, wrapped: Buffer.from(record.wrapped) }, context),
      dataKey,
    );
  });

  it('records the key an alias points to, so a restore asks for that key', async () => {
    const arn = await admin.createKey('alias/hindsight-backups');
    const record = await wrapperFor('alias/hindsight-backups').wrap(randomBytes(32), context);
    assert.equal(record.keyRef, arn);
  });

  it("refuses to unwrap with another object's context", async () => {
    const arn = await admin.createKey();
    const wrapper = wrapperFor(arn);
    const record = await wrapper.wrap(randomBytes(32), context);
    const error = await refusal(wrapper.unwrap(record, otherObject));
    assert.equal(error.kind, 'integrity');
    assert.equal(
      error.message,
      `the data key wrapped by KMS key ${arn} does not open with this object's context: the header was altered or copied from another object`,
    );
  });

  it('refuses to unwrap under a disabled key, naming the key and the fix, and unwraps once it is enabled', async () => {
    const arn = await admin.createKey();
    const wrapper = wrapperFor(arn);
    const dataKey = randomBytes(32);
    const record = await wrapper.wrap(dataKey, context);
    await admin.disable(arn);
    const error = await refusal(wrapper.unwrap(record, context));
    assert.equal(error.kind, 'access_denied');
    assert.equal(
      error.message,
      `KMS key ${arn} is disabled: enable it (aws kms enable-key --key-id ${arn}), then run the restore again`,
    );
    const wrapError = await refusal(wrapper.wrap(randomBytes(32), context));
    assert.match(wrapError.message, /is disabled: enable it .*then run the backup again, or choose another key$/);
    await admin.enable(arn);
    assert.deepEqual(await wrapper.unwrap(record, context), dataKey);
  });

  it('refuses to unwrap under a key scheduled for deletion, naming the date and the fix', async () => {
    const arn = await admin.createKey();
    const wrapper = wrapperFor(arn);
    const dataKey = randomBytes(32);
    const record = await wrapper.wrap(dataKey, context);
    await admin.scheduleDeletion(arn);
    const error = await refusal(wrapper.unwrap(record, context));
    assert.equal(error.kind, 'access_denied');
    assert.match(
      error.message,
      new RegExp(
        `^KMS key ${arn.replace(/[/]/g, '\\/')} is scheduled for deletion on \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z: cancel it \\(aws kms cancel-key-deletion --key-id .+\\) and enable the key, then run the restore again; once the key is deleted, what it wrapped can never be opened$`,
      ),
    );
    await admin.cancelDeletion(arn);
    await admin.enable(arn);
    assert.deepEqual(await wrapper.unwrap(record, context), dataKey);
  });

  it('names a key that does not exist', async () => {
    const missing = `arn:aws:kms:${moto.region}:123456789012:key/00000000-0000-4000-8000-000000000000`;
    const error = await refusal(wrapperFor(missing).wrap(randomBytes(32), context));
    assert.equal(error.kind, 'not_found');
    assert.match(
      error.message,
      new RegExp(
        `^KMS key ${missing.replace(/[/]/g, '\\/')} does not exist in this account and region .*: check keyId and region$`,
      ),
    );
  });

  it('names the endpoint when KMS cannot be reached', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const arn = `arn:aws:kms:${moto.region}:123456789012:key/11111111-1111-4111-8111-111111111111`;
    const error = await refusal(wrapperFor(arn, { endpoint }).wrap(randomBytes(32), context));
    assert.equal(error.kind, 'unreachable');
    assert.match(
      error.message,
      new RegExp(`^cannot reach KMS at ${endpoint} for KMS key .+: check the endpoint, the region and the network$`),
    );
  });

  it('writes no credential into any log line or error', async () => {
    // Runs after the refusals above, which each logged a warning with the same credentials.
    assert.ok(logLines.length >= 5, `expected the refusals above to be logged, got ${logLines.length} lines`);
    const texts = logLines.map((line) => JSON.stringify(line));
    const findings = scan(
      { log: texts, errors: refusalTexts },
      { secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken },
    );
    assert.deepEqual(findings, []);
  });
});
