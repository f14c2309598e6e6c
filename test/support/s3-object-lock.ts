/**
 * Buckets with S3 Object Lock on moto, and a look at the retention of their objects from outside
 * the driver: what a test checks a locked write left, and how it lets a date pass.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { s3StorageConfig } from '../../lib/storage/s3/config.ts';
import { createS3Storage } from '../../lib/storage/s3/driver.ts';
import type { MotoServer } from './servers/moto.ts';

/** A fresh bucket created with Object Lock enabled (which makes it versioned). */
export async function newLockedBucket(client: S3Client, stem: string): Promise<string> {
  const bucket = `${stem}-${randomBytes(4).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  return bucket;
}

/** The settings of an S3 storage on moto's `bucket` that locks every object for `days`. */
export function lockedS3Settings(moto: MotoServer, bucket: string, days: number, mode = 'compliance') {
  return {
    type: 's3' as const,
    bucket,
    region: moto.region,
    endpoint: moto.endpoint,
    forcePathStyle: true,
    accessKeyId: moto.accessKeyId,
    secretAccessKey: moto.secretAccessKey,
    objectLock: { mode, days },
  };
}

export function lockedDriverOn(moto: MotoServer, bucket: string, days: number, mode = 'compliance'): StorageDriver {
  return createS3Storage({ name: 'locked', config: s3StorageConfig.parse(lockedS3Settings(moto, bucket, days, mode)) });
}

/** Every version and delete marker under `prefix`, as `key@version`, sorted. */
export async function versionsUnder(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => `${v.Key}@${v.VersionId}`).sort();
}

/** The lock S3 reports on the current version of `key`. */
export async function lockOf(client: S3Client, bucket: string, key: string) {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { mode: head.ObjectLockMode, until: head.ObjectLockRetainUntilDate };
}

/**
 * Moves the retention date of every version under `prefix` to `until`, as if that much time had
 * passed: moto applies PutObjectRetention without AWS's rule that a date may only move later.
 */
export async function setRetention(client: S3Client, bucket: string, prefix: string, until: Date): Promise<number> {
  const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  for (const version of page.Versions ?? []) {
    await client.send(
      new PutObjectRetentionCommand({
        Bucket: bucket,
        Key: version.Key,
        VersionId: version.VersionId,
        Retention: { Mode: 'COMPLIANCE', RetainUntilDate: until },
      }),
    );
  }
  return page.Versions?.length ?? 0;
}
