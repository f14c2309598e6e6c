import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { HindsightError } from '../../lib/errors.ts';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import { s3SecretFields, s3StorageConfig } from '../../lib/storage/s3/config.ts';
import { createS3Storage } from '../../lib/storage/s3/driver.ts';
import { s3PartSize, S3_MAX_PARTS } from '../../lib/storage/s3/parts.ts';
import { freePort } from '../support/ports.ts';
import {
  driverOn,
  multipartUploads,
  newBucket,
  objectExists,
  rawClient,
  until,
  writeChunk,
} from '../support/s3-moto-helpers.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';
import { describeStorageContract } from '../support/storage-contract.ts';
import { closingAfter, listedKeys, putObject } from '../support/storage-objects.ts';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

let shared: Promise<MotoServer> | undefined;
/** One moto for the suites below that do not need authentication. */
const sharedMoto = () => (shared ??= startMoto());
after(async () => {
  if (shared) await (await shared).stop();
});

describeStorageContract('s3 (moto)', async () => {
  const moto = await sharedMoto();
  const client = rawClient(moto);
  const bucket = await newBucket(client, 'contract');
  return { driver: driverOn(moto, bucket, { prefix: 'hindsight/' }), cleanup: async () => client.destroy() };
});

describe('s3 storage driver', () => {
  let moto: MotoServer;
  let client: S3Client;
  let bucket: string;

  before(async () => {
    moto = await sharedMoto();
    client = rawClient(moto);
    bucket = await newBucket(client, 'driver');
  });
  after(() => client?.destroy());

  it('keeps every object under the prefix and strips it when listing', async () => {
    await closingAfter(driverOn(moto, bucket, { prefix: 'team-a/backups' }), async (driver) => {
      await putObject(driver, 'db1/base.tar', Buffer.from('payload'));
      const raw = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'team-a/' }));
      assert.deepEqual(
        raw.Contents?.map((o) => o.Key),
        ['team-a/backups/db1/base.tar'],
      );
      assert.deepEqual(await listedKeys(driver, 'db1'), ['db1/base.tar']);
      assert.deepEqual(await listedKeys(driver, ''), ['db1/base.tar']);
      await driver.remove('db1/base.tar');
    });
  });

  it('works with region "auto", as Cloudflare R2 is configured', async () => {
    const result = await closingAfter(
      driverOn(moto, bucket, { name: 'r2-like', region: 'auto' }),
      testStorageConnection,
    );
    assert.equal(result.ok, true, JSON.stringify(result));
  });

  it('leaves no multipart upload and no object when a multipart write is aborted', async () => {
    await closingAfter(driverOn(moto, bucket, { prefix: 'p' }), async (driver) => {
      const write = await driver.openWrite('aborted/big.bin');
      await writeChunk(write, randomBytes(6 * MiB));
      assert.deepEqual(
        await multipartUploads(client, bucket),
        ['p/aborted/big.bin'],
        'the write is a multipart upload in progress',
      );
      await write.abort();
      assert.deepEqual(await multipartUploads(client, bucket), []);
      assert.equal(await objectExists(client, bucket, 'p/aborted/big.bin'), false);
      assert.equal(await driver.stat('aborted/big.bin'), undefined);
    });
  });

  it('sweeps a multipart write abandoned by a killed worker, leaving no upload and no object', async () => {
    let held = 0;
    const driver = driverOn(moto, bucket, { prefix: 'p', tuning: { onBufferedBytes: (bytes) => (held = bytes) } });
    await closingAfter(driver, async () => {
      const killed = await driver.openWrite('abandoned/big.bin');
      await writeChunk(killed, randomBytes(6 * MiB));
      // Held memory falls to the one part still filling once the first part is uploaded.
      await until('the first part is uploaded', () => held <= 5 * MiB);
      // moto reports a fixed date in 2010 as every upload's start, so the age limit is not tested here.
      assert.equal(await driver.sweepAbandonedWrites('other/', 0), 0, 'only uploads under the key prefix are swept');
      assert.deepEqual(await multipartUploads(client, bucket), ['p/abandoned/big.bin']);
      assert.equal(await driver.sweepAbandonedWrites('abandoned/', 0), 1);
      assert.deepEqual(await multipartUploads(client, bucket), []);
      assert.equal(await objectExists(client, bucket, 'p/abandoned/big.bin'), false);
      assert.deepEqual(await driver.list('abandoned'), []);
      killed.stream.destroy();
    });
  });

  it('aborts the multipart upload by itself when the source fails mid-stream', async () => {
    await closingAfter(driverOn(moto, bucket, { prefix: 'p' }), async (driver) => {
      const write = await driver.openWrite('failed/big.bin');
      async function* failing(): AsyncGenerator<Buffer> {
        yield randomBytes(6 * MiB);
        yield randomBytes(CHUNK);
        throw new Error('the database connection dropped');
      }
      await assert.rejects(pipeline(Readable.from(failing()), write.stream), /connection dropped/);
      await until(
        'the multipart upload is aborted',
        async () => !(await multipartUploads(client, bucket)).includes('p/failed/big.bin'),
      );
      assert.equal(await objectExists(client, bucket, 'p/failed/big.bin'), false);
      await assert.rejects(
        write.commit(),
        (error: unknown) => error instanceof HindsightError && /interrupted/.test(error.message),
      );
    });
  });

  it('streams 200 MiB holding at most 16 MiB in memory, with backpressure', async () => {
    let held = 0;
    let peak = 0;
    const driver = driverOn(moto, bucket, {
      tuning: {
        onBufferedBytes: (bytes) => {
          held = bytes;
          peak = Math.max(peak, bytes);
        },
      },
    });
    const total = 200 * MiB;
    const hash = createHash('sha256');
    let produced = 0;
    await closingAfter(driver, async () => {
      // A source as fast as memory: only backpressure keeps it from running ahead of the uploads.
      const source = new Readable({
        highWaterMark: CHUNK,
        read() {
          if (produced >= total) {
            this.push(null);
            return;
          }
          const chunk = randomBytes(CHUNK);
          produced += chunk.length;
          hash.update(chunk);
          this.push(chunk);
        },
      });
      const write = await driver.openWrite('memory/200mib.bin');
      await pipeline(source, write.stream);
      const info = await write.commit();
      assert.equal(info.size, total);
      assert.equal(held, 0, 'nothing is held once committed');
      assert.ok(peak <= 16 * MiB + CHUNK, `peak buffered ${(peak / MiB).toFixed(2)} MiB exceeds 16 MiB + one chunk`);
      assert.ok(peak >= 10 * MiB, `parts overlap: peak ${(peak / MiB).toFixed(2)} MiB`);
      assert.equal((await driver.stat('memory/200mib.bin'))?.size, total);
      const back = createHash('sha256');
      for await (const chunk of await driver.openRead('memory/200mib.bin')) back.update(chunk as Buffer);
      assert.equal(back.digest('hex'), hash.digest('hex'));
      await driver.remove('memory/200mib.bin');
    });
  });

  it('spools parts beyond the memory parts to disk and reads them back intact', async () => {
    let peak = 0;
    const driver = driverOn(moto, bucket, {
      tuning: { memoryParts: 1, onBufferedBytes: (bytes) => (peak = Math.max(peak, bytes)) },
    });
    await closingAfter(driver, async () => {
      const body = randomBytes(17 * MiB + 4321);
      const write = await driver.openWrite('spooled/blob.bin');
      await pipeline(
        Readable.from(
          (function* () {
            for (let at = 0; at < body.length; at += CHUNK) yield body.subarray(at, at + CHUNK);
          })(),
        ),
        write.stream,
      );
      assert.equal((await write.commit()).size, body.length);
      assert.ok(peak <= 5 * MiB, `only the first part is held in memory (peak ${peak})`);
      const chunks: Buffer[] = [];
      for await (const chunk of await driver.openRead('spooled/blob.bin')) chunks.push(chunk as Buffer);
      assert.ok(Buffer.concat(chunks).equals(body));
      const tail = await driver.openRead('spooled/blob.bin', { start: 16 * MiB, end: 16 * MiB + 100 });
      const tailChunks: Buffer[] = [];
      for await (const chunk of tail) tailChunks.push(chunk as Buffer);
      assert.ok(Buffer.concat(tailChunks).equals(body.subarray(16 * MiB, 16 * MiB + 100)));
    });
  });
});

describe('s3 part sizes', () => {
  it('fit objects of several TiB into 10,000 parts of at most 5 GiB', () => {
    let sum = 0;
    let largest = 0;
    for (let n = 1; n <= S3_MAX_PARTS; n += 1) {
      sum += s3PartSize(n);
      largest = Math.max(largest, s3PartSize(n));
    }
    assert.equal(s3PartSize(1), 5 * MiB);
    assert.equal(s3PartSize(1000), 5 * MiB);
    assert.equal(s3PartSize(1001), 10 * MiB);
    assert.ok(sum >= 4.8 * 1024 * 1024 * MiB, `capacity ${sum / (1024 * 1024 * MiB)} TiB`);
    assert.ok(largest <= 5 * 1024 * MiB);
  });
});

describe('s3 config', () => {
  const base = { type: 's3', bucket: 'backups' } as const;
  it('defaults region and path style, and names its secret fields', () => {
    const parsed = s3StorageConfig.parse(base);
    assert.equal(parsed.region, 'us-east-1');
    assert.equal(parsed.forcePathStyle, false);
    assert.deepEqual([...s3SecretFields], ['secretAccessKey', 'sessionToken']);
  });
  it('accepts region "auto" with an endpoint (Cloudflare R2) and refuses it without one', () => {
    assert.ok(
      s3StorageConfig.safeParse({ ...base, region: 'auto', endpoint: 'https://acct.r2.cloudflarestorage.com' }).success,
    );
    const refused = s3StorageConfig.safeParse({ ...base, region: 'auto' });
    assert.equal(refused.success, false);
    assert.match(refused.error?.issues[0]?.message ?? '', /needs an endpoint/);
  });
  it('refuses half credentials, a KMS key without aws:kms, archive classes and a path for a bucket', () => {
    assert.equal(s3StorageConfig.safeParse({ ...base, accessKeyId: 'AKIA' }).success, false);
    assert.equal(s3StorageConfig.safeParse({ ...base, sseKmsKeyId: 'key' }).success, false);
    assert.ok(s3StorageConfig.safeParse({ ...base, serverSideEncryption: 'aws:kms', sseKmsKeyId: 'key' }).success);
    assert.equal(s3StorageConfig.safeParse({ ...base, storageClass: 'DEEP_ARCHIVE' }).success, false);
    assert.ok(s3StorageConfig.safeParse({ ...base, storageClass: 'GLACIER_IR' }).success);
    assert.equal(s3StorageConfig.safeParse({ ...base, bucket: 's3://backups/x' }).success, false);
    assert.equal(s3StorageConfig.safeParse({ ...base, prefix: '../up' }).success, false);
  });
});

describe('s3 connection test failures', () => {
  let moto: MotoServer;
  let bucket: string;
  let user: { accessKeyId: string; secretAccessKey: string };
  const wrongSecret = `wrong-${randomBytes(16).toString('hex')}`;

  before(async () => {
    // A moto of its own: once authentication is on, it refuses the placeholder credentials.
    moto = await startMoto();
    user = await moto.createS3User('hindsight-backup');
    const setup = rawClient(moto, user);
    bucket = await newBucket(setup, 'auth');
    setup.destroy();
    await moto.enableAuth();
  });
  after(async () => moto?.stop());

  const probe = async (config: Record<string, unknown>) => {
    const driver = createS3Storage({
      name: 'offsite',
      config: s3StorageConfig.parse({ type: 's3', forcePathStyle: true, ...config }),
    });
    return closingAfter(driver, testStorageConnection);
  };

  it('passes with the right key, so the failures below are the ones named', async () => {
    const result = await probe({ bucket, endpoint: moto.endpoint, ...user });
    assert.equal(result.ok, true, JSON.stringify(result));
  });

  it('reports wrong credentials, a missing bucket and an unreachable endpoint as three distinct, readable errors', async () => {
    const closedPort = await freePort();
    const wrongKey = await probe({
      bucket,
      endpoint: moto.endpoint,
      accessKeyId: user.accessKeyId,
      secretAccessKey: wrongSecret,
    });
    const noBucket = await probe({ bucket: 'no-such-bucket-here', endpoint: moto.endpoint, ...user });
    const started = Date.now();
    const unreachable = await probe({
      bucket,
      endpoint: `http://127.0.0.1:${closedPort}`,
      accessKeyId: user.accessKeyId,
      secretAccessKey: wrongSecret,
    });
    const unreachableMs = Date.now() - started;

    for (const result of [wrongKey, noBucket, unreachable]) {
      assert.equal(result.ok, false, JSON.stringify(result));
      if (result.ok) continue;
      assert.equal(result.stage, 'write');
      assert.ok(!result.message.includes(wrongSecret), `no secret in: ${result.message}`);
      assert.ok(!result.message.includes(user.secretAccessKey), `no secret in: ${result.message}`);
      assert.match(result.message, /^storage s3 "offsite": /);
    }
    assert.ok(!wrongKey.ok && !noBucket.ok && !unreachable.ok);
    assert.equal(wrongKey.kind, 'access_denied');
    assert.match(wrongKey.message, /access denied for PutObject on bucket "auth-[0-9a-f]+"/);
    assert.match(wrongKey.message, /SignatureDoesNotMatch/);
    assert.equal(noBucket.kind, 'bad_input');
    assert.match(noBucket.message, /bucket "no-such-bucket-here" does not exist \(create it or fix the bucket name\)/);
    assert.equal(unreachable.kind, 'unreachable');
    assert.match(
      unreachable.message,
      new RegExp(`unreachable endpoint http://127\\.0\\.0\\.1:${closedPort} \\(ECONNREFUSED\\)`),
    );
    assert.ok(unreachableMs < 10_000, `an unreachable endpoint fails fast (${unreachableMs} ms)`);
    assert.equal(new Set([wrongKey.kind, noBucket.kind, unreachable.kind]).size, 3);
  });

  it('names an unknown access key as such', async () => {
    const result = await probe({
      bucket,
      endpoint: moto.endpoint,
      accessKeyId: 'AKIAUNKNOWNKEY000000',
      secretAccessKey: wrongSecret,
    });
    assert.ok(!result.ok);
    assert.equal(result.kind, 'access_denied');
    assert.match(result.message, /access key ID is not known/);
    assert.ok(!result.message.includes(wrongSecret));
  });
});
