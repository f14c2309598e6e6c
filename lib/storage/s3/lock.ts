import {
  DeleteObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
  type ObjectLockMode,
} from '@aws-sdk/client-s3';
import { storageError } from '../contract.ts';
import { DAY_MS, lockDate, ObjectLockedError } from '../locked.ts';
import { listingPages, type S3Context } from './client.ts';
import type { S3ObjectLock } from './config.ts';
import { translateS3Error } from './errors.ts';

/**
 * S3 Object Lock. A bucket with it is versioned: a plain DeleteObject only hides an object behind a
 * delete marker while every byte stays billed, so a locked storage removes a key by deleting each of
 * its versions, which S3 refuses for a version whose retention date has not passed.
 */

/** The headers that lock an object written now until now + days. */
export function lockHeaders(lock: S3ObjectLock | undefined): {
  ObjectLockMode?: ObjectLockMode;
  ObjectLockRetainUntilDate?: Date;
} {
  if (!lock) return {};
  return {
    ObjectLockMode: lock.mode === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE',
    ObjectLockRetainUntilDate: new Date(Date.now() + lock.days * DAY_MS),
  };
}

/**
 * Sets the retention of a version completed by a multipart upload. S3 already applies the lock given
 * to CreateMultipartUpload; some S3-compatible stores ignore it there, so it is set again, to the
 * same date (which S3 allows in either mode).
 */
export async function retainVersion(
  ctx: S3Context,
  objectKey: string,
  versionId: string | undefined,
  lock: ReturnType<typeof lockHeaders>,
): Promise<void> {
  if (!lock.ObjectLockMode || !lock.ObjectLockRetainUntilDate) return;
  await ctx.client.send(
    new PutObjectRetentionCommand({
      Bucket: ctx.bucket,
      Key: objectKey,
      ...(versionId ? { VersionId: versionId } : {}),
      Retention: { Mode: lock.ObjectLockMode, RetainUntilDate: lock.ObjectLockRetainUntilDate },
    }),
  );
}

/** Refuses a bucket without Object Lock enabled: the objects would be written unprotected. */
export async function assertBucketLocks(ctx: S3Context): Promise<void> {
  // Most stores enable Object Lock only when a bucket is created.
  const fix = `use a bucket created with Object Lock enabled, or remove objectLock from the storage settings`;
  let enabled: string | undefined;
  try {
    const answer = await ctx.client.send(new GetObjectLockConfigurationCommand({ Bucket: ctx.bucket }));
    enabled = answer.ObjectLockConfiguration?.ObjectLockEnabled;
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'ObjectLockConfigurationNotFoundError') {
      throw translateS3Error(error, ctx.errors, 'connect', '', 'GetObjectLockConfiguration');
    }
  }
  if (enabled !== 'Enabled') {
    throw storageError(
      'bad_input',
      ctx.errors.label,
      'connect',
      '',
      `bucket "${ctx.bucket}" does not have Object Lock enabled, which objectLock needs: ${fix}`,
    );
  }
}

/** The date S3 keeps this version (the current one when absent) locked until, when it says one. */
async function retainedUntil(ctx: S3Context, objectKey: string, versionId?: string): Promise<Date | undefined> {
  const head = await ctx.client
    .send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: objectKey, ...(versionId ? { VersionId: versionId } : {}) }))
    .catch(() => undefined);
  return head?.ObjectLockRetainUntilDate;
}

/** The retention date of the current version of `key`, when it is still ahead. */
export async function lockedUntil(ctx: S3Context, key: string): Promise<Date | undefined> {
  const until = await retainedUntil(ctx, ctx.objectKey(key));
  return until && until.getTime() > Date.now() ? until : undefined;
}

/** Every version and delete marker of exactly `objectKey`. */
async function versionsOf(ctx: S3Context, objectKey: string): Promise<string[]> {
  const pages = listingPages(
    (marker: { key?: string; version?: string } | undefined) =>
      ctx.client.send(
        new ListObjectVersionsCommand({
          Bucket: ctx.bucket,
          Prefix: objectKey,
          ...(marker?.key ? { KeyMarker: marker.key } : {}),
          ...(marker?.version ? { VersionIdMarker: marker.version } : {}),
        }),
      ),
    (page) => ({ key: page.NextKeyMarker, version: page.NextVersionIdMarker }),
  );
  const ids: string[] = [];
  for await (const page of pages) {
    for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      if (entry.Key === objectKey && entry.VersionId) ids.push(entry.VersionId);
    }
  }
  return ids;
}

/**
 * Deletes every version of `key`. A version still under retention is refused by S3 (kind
 * `conflict`, naming the date): the caller must keep everything that records the object.
 */
export async function removeAllVersions(ctx: S3Context, key: string): Promise<void> {
  const objectKey = ctx.objectKey(key);
  let versions: string[];
  try {
    versions = await versionsOf(ctx, objectKey);
  } catch (error) {
    throw translateS3Error(error, ctx.errors, 'remove', key, 'ListObjectVersions');
  }
  for (const versionId of versions) {
    try {
      await ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: objectKey, VersionId: versionId }));
    } catch (error) {
      const translated = translateS3Error(error, ctx.errors, 'remove', key, 'DeleteObject');
      if (translated.kind !== 'access_denied' && translated.kind !== 'bad_input') throw translated;
      const until = await retainedUntil(ctx, objectKey, versionId);
      if (!until || until.getTime() <= Date.now()) throw translated;
      throw new ObjectLockedError(
        storageError(
          'conflict',
          ctx.errors.label,
          'remove',
          key,
          `the object is locked by S3 Object Lock until ${lockDate(until)} and cannot be deleted before then (retention deletes it on its first run after that date)`,
        ).message,
        until,
      );
    }
  }
}
