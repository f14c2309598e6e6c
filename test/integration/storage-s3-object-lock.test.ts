import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { AUDIT_HEAD_PREFIX, writeAuditHead } from '../../lib/catalog/audit-head.ts';
import { generateSecretKey } from '../../lib/crypto/secret-key.ts';
import { HindsightError } from '../../lib/errors.ts';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import { lockedUntilOf } from '../../lib/storage/locked.ts';
import { s3StorageConfig } from '../../lib/storage/s3/config.ts';
import { readAll } from '../../lib/storage/shared/streams.ts';
import { newBucket, rawClient } from '../support/s3-moto-helpers.ts';
import { lockedDriverOn, lockOf, newLockedBucket, setRetention, versionsUnder } from '../support/s3-object-lock.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';
import { closingAfter, putObject } from '../support/storage-objects.ts';

const DAY = 86_400_000;
const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('s3 object lock: settings', () => {
  const base = { type: 's3', bucket: 'b' };

  it('takes a mode and a number of days, and refuses anything else with the field named', () => {
    const parsed = s3StorageConfig.parse({ ...base, objectLock: { mode: 'governance', days: 30 } });
    assert.deepEqual(parsed.objectLock, { mode: 'governance', days: 30 });
    const refusal = (objectLock: unknown) =>
      s3StorageConfig
        .safeParse({ ...base, objectLock })
        .error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ');
    assert.equal(
      refusal({ mode: 'legal', days: 1 }),
      'objectLock.mode: objectLock.mode must be "governance" or "compliance"',
    );
    assert.equal(
      refusal({ mode: 'compliance', days: 0 }),
      'objectLock.days: objectLock.days must be between 1 and 36500',
    );
    assert.equal(
      refusal({ mode: 'compliance', days: 36501 }),
      'objectLock.days: objectLock.days must be between 1 and 36500',
    );
    assert.equal(
      refusal({ mode: 'compliance', days: 1.5 }),
      'objectLock.days: objectLock.days must be a whole number of days',
    );
    assert.match(refusal({ mode: 'compliance', days: 3, dayz: 3 }) ?? '', /Unrecognized key/);
  });
});

describe('s3 object lock on moto: every object is written locked and cannot be removed before its date', () => {
  let moto: MotoServer;
  let client: S3Client;
  let bucket: string;

  before(async () => {
    moto = await startMoto();
    client = rawClient(moto);
    bucket = await newLockedBucket(client, 'locked');
  });
  after(async () => {
    client?.destroy();
    await moto?.stop();
  });

  it('refuses, in the connection test, a bucket without Object Lock, naming the bucket and the fix', async () => {
    const plain = await newBucket(client, 'plain');
    await closingAfter(lockedDriverOn(moto, plain, 1), async (locked) => {
      const result = await testStorageConnection(locked);
      assert.ok(!result.ok, 'the connection test passed on a bucket without Object Lock');
      assert.equal(result.stage, 'settings');
      assert.equal(result.kind, 'bad_input');
      assert.equal(
        result.message,
        `storage s3 "locked": unable to connect: bucket "${plain}" does not have Object Lock enabled, which objectLock needs: use a bucket created with Object Lock enabled, or remove objectLock from the storage settings (check the storage settings)`,
      );
    });
    assert.deepEqual(await versionsUnder(client, plain), [], 'nothing was written to the refused bucket');
  });

  it('passes the connection test on a locked bucket and leaves no version of its probe behind', async () => {
    await closingAfter(lockedDriverOn(moto, bucket, 1), async (driver) => {
      const result = await testStorageConnection(driver);
      assert.equal(result.ok, true, JSON.stringify(result));
    });
    assert.deepEqual(await versionsUnder(client, bucket, '.hindsight-connection-test/'), []);
  });

  it('locks a small object and a multipart one until now + days, in the mode configured', async () => {
    const small = randomBytes(1000);
    const large = randomBytes(12 * MiB);
    const before = Date.now();
    await closingAfter(lockedDriverOn(moto, bucket, 3, 'governance'), async (driver) => {
      await putObject(driver, 'db/small.bin', small);
      await putObject(driver, 'db/large.bin', large);
      assert.equal(sha(await readAll(await driver.openRead('db/large.bin'))), sha(large));
    });
    const afterWrite = Date.now();
    for (const key of ['db/small.bin', 'db/large.bin']) {
      const lock = await lockOf(client, bucket, key);
      assert.equal(lock.mode, 'GOVERNANCE', key);
      const until = lock.until?.getTime() ?? 0;
      // S3 keeps the date to the second.
      assert.ok(
        until >= before + 3 * DAY - 1000 && until <= afterWrite + 3 * DAY,
        `${key}: ${lock.until?.toISOString()}`,
      );
    }
  });

  it('refuses to remove a locked object with the date named, and keeps every byte of it', async () => {
    const body = randomBytes(5000);
    await closingAfter(lockedDriverOn(moto, bucket, 1), async (driver) => {
      await putObject(driver, 'keep/me.bin', body);
      const until = (await lockOf(client, bucket, 'keep/me.bin')).until!;
      assert.equal((await driver.lockedUntil!('keep/me.bin'))?.getTime(), until.getTime());
      const refused = await driver.remove('keep/me.bin').then(
        () => assert.fail('a locked object was removed'),
        (error: unknown) => error,
      );
      assert.ok(refused instanceof HindsightError);
      assert.equal(refused.kind, 'conflict');
      assert.equal(lockedUntilOf(refused)?.getTime(), until.getTime());
      const date = until.toISOString().replace(/\.\d{3}Z$/, 'Z');
      assert.equal(
        refused.message,
        `storage s3 "locked": unable to remove 'keep/me.bin': the object is locked by S3 Object Lock until ${date} and cannot be deleted before then (retention deletes it on its first run after that date)`,
      );
      assert.equal(sha(await readAll(await driver.openRead('keep/me.bin'))), sha(body));
    });
  });

  it('removes every version of an object once its date has passed', async () => {
    await closingAfter(lockedDriverOn(moto, bucket, 1), async (driver) => {
      await putObject(driver, 'expired/a.bin', randomBytes(100));
      await putObject(driver, 'expired/a.bin', randomBytes(200));
      assert.equal((await versionsUnder(client, bucket, 'expired/')).length, 2);
      // The date passing, told to moto: it takes a retention date in the past.
      assert.equal(await setRetention(client, bucket, 'expired/', new Date(Date.now() - 1000)), 2);
      assert.equal(await driver.lockedUntil!('expired/a.bin'), undefined);
      await driver.remove('expired/a.bin');
      assert.deepEqual(await versionsUnder(client, bucket, 'expired/'), []);
      assert.equal(await driver.stat('expired/a.bin'), undefined);
    });
  });

  it('leaves an old audit head the storage still locks for a later write, instead of failing the new one', async () => {
    const secret = generateSecretKey();
    await closingAfter(lockedDriverOn(moto, bucket, 1), async (driver) => {
      // One more than the heads kept: the oldest is due for removal but locked.
      for (let entryId = 1; entryId <= 31; entryId += 1) {
        await writeAuditHead(driver, { entryId, entryMac: 'ab'.repeat(32), chainKey: 'test' }, secret);
      }
      assert.equal((await driver.list(AUDIT_HEAD_PREFIX)).length, 31);
    });
  });
});
