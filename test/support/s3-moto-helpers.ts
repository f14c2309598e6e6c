/**
 * What the S3 driver tests do beside the driver against moto: a raw SDK client to look at the
 * bucket directly, a fresh bucket per suite, a driver on it, and waits on a write in progress.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import type { AtomicWrite, StorageDriver } from '../../lib/storage/contract.ts';
import type { S3Tuning } from '../../lib/storage/s3/client.ts';
import { s3StorageConfig } from '../../lib/storage/s3/config.ts';
import { createS3Storage } from '../../lib/storage/s3/driver.ts';
import type { MotoServer } from './servers/moto.ts';

export function rawClient(
  moto: MotoServer,
  credentials = { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey },
): S3Client {
  return new S3Client({ region: moto.region, endpoint: moto.endpoint, forcePathStyle: true, credentials });
}

export async function newBucket(client: S3Client, stem: string): Promise<string> {
  const bucket = `${stem}-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** The settings of an S3 storage on `bucket` of this moto, as `storage add --config` takes them. */
export function s3StorageSettings(moto: MotoServer, bucket: string, credentials: Record<string, unknown>) {
  return { type: 's3', bucket, region: moto.region, endpoint: moto.endpoint, forcePathStyle: true, ...credentials };
}

export function driverOn(
  moto: MotoServer,
  bucket: string,
  extra: { prefix?: string; tuning?: S3Tuning; name?: string; region?: string } = {},
): StorageDriver {
  return createS3Storage({
    name: extra.name ?? 'moto',
    config: s3StorageConfig.parse({
      type: 's3',
      bucket,
      endpoint: moto.endpoint,
      forcePathStyle: true,
      accessKeyId: moto.accessKeyId,
      secretAccessKey: moto.secretAccessKey,
      ...(extra.prefix ? { prefix: extra.prefix } : {}),
      ...(extra.region ? { region: extra.region } : {}),
    }),
    ...(extra.tuning ? { tuning: extra.tuning } : {}),
  });
}

export function writeChunk(write: AtomicWrite, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => write.stream.write(chunk, (error) => (error ? reject(error) : resolve())));
}

export async function multipartUploads(client: S3Client, bucket: string): Promise<string[]> {
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (page.Uploads ?? []).map((u) => u.Key ?? '');
}

export async function objectExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
