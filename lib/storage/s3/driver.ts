import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { HindsightError } from '../../errors.ts';
import { assertRange, assertSafeKey, type ObjectInfo, type StorageDriver } from '../contract.ts';
import { parseSettings } from '../shared/settings.ts';
import { listingPages, openS3Context, type S3Context, type S3Tuning } from './client.ts';
import { normalizePrefix, s3StorageConfig, type S3StorageConfig } from './config.ts';
import { translateS3Error } from './errors.ts';
import { assertBucketLocks, lockedUntil, removeAllVersions } from './lock.ts';
import { headObject, isMissing, openS3Read } from './read.ts';
import { sweepMultipartUploads } from './sweep.ts';
import { S3Write } from './write.ts';

/** Prefixes for list and sweep may be partial key names, but never absolute or climbing. */
function assertSafePrefix(prefix: string): void {
  if (prefix === '') return;
  if (
    prefix.startsWith('/') ||
    prefix.split('/').some((part) => part === '..' || part === '.') ||
    prefix.includes('\0')
  ) {
    throw new HindsightError('bad_input', `storage prefix '${prefix}' is not a safe relative path`);
  }
}

async function listObjects(ctx: S3Context, prefix: string, dir: string): Promise<ObjectInfo[]> {
  const listPrefix = `${prefix}${dir ? `${dir.replace(/\/+$/, '')}/` : ''}`;
  const out: ObjectInfo[] = [];
  const pages = listingPages(
    (token: string | undefined) =>
      ctx.client.send(
        new ListObjectsV2Command({
          Bucket: ctx.bucket,
          Prefix: listPrefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      ),
    (page) => page.NextContinuationToken,
  );
  try {
    for await (const page of pages) {
      for (const object of page.Contents ?? []) {
        // Keys ending in "/" are folder markers made by consoles, not objects of ours.
        if (!object.Key || object.Key.endsWith('/')) continue;
        out.push({
          key: object.Key.slice(prefix.length),
          size: object.Size ?? 0,
          modifiedAt: object.LastModified ?? new Date(0),
        });
      }
    }
  } catch (error) {
    throw translateS3Error(error, ctx.errors, 'list', dir, 'ListObjectsV2');
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/**
 * An S3 bucket, or any S3-compatible store (MinIO, Cloudflare R2, Backblaze B2, Wasabi) through
 * `endpoint`. Writes use multipart uploads, which S3 shows only when completed; that completion is
 * the atomic commit.
 */
export function createS3Storage(options: { name: string; config: S3StorageConfig; tuning?: S3Tuning }): StorageDriver {
  const label = `s3 "${options.name}"`;
  const config = parseSettings(s3StorageConfig, options.config, label);
  const prefix = normalizePrefix(config.prefix);
  const { ctx, readClient, close } = openS3Context({ label, config, prefix, tuning: options.tuning ?? {} });

  return {
    label,

    async openWrite(key) {
      assertSafeKey(key);
      return new S3Write(ctx, key);
    },

    async openRead(key, range) {
      assertSafeKey(key);
      assertRange(range);
      return openS3Read(ctx, readClient(), key, range);
    },

    stat: (key) => headObject(ctx, key),

    async list(dir) {
      assertSafePrefix(dir);
      return listObjects(ctx, prefix, dir);
    },

    async remove(key) {
      assertSafeKey(key);
      if (ctx.lock) return removeAllVersions(ctx, key);
      try {
        await ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: ctx.objectKey(key) }));
      } catch (error) {
        if (isMissing(error)) return;
        throw translateS3Error(error, ctx.errors, 'remove', key, 'DeleteObject');
      }
    },

    async checkSettings() {
      if (ctx.lock) await assertBucketLocks(ctx);
    },

    // Asked even when these settings lock nothing: objects written under an earlier objectLock keep theirs.
    lockedUntil: (key) => {
      assertSafeKey(key);
      return lockedUntil(ctx, key);
    },

    async sweepAbandonedWrites(keyPrefix, olderThanMs) {
      assertSafePrefix(keyPrefix);
      return sweepMultipartUploads(ctx, keyPrefix, olderThanMs);
    },

    async close() {
      close();
    },
  };
}
