import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type MultipartUpload } from '@aws-sdk/client-s3';
import { listingPages, type S3Context } from './client.ts';
import { translateS3Error } from './errors.ts';

/** Whether an unfinished upload is old enough to sweep. Without a start time its age is unknown: only a sweep of everything takes it. */
function isAbandoned(upload: MultipartUpload, cutoff: number, olderThanMs: number): boolean {
  return upload.Initiated ? upload.Initiated.getTime() <= cutoff : olderThanMs <= 0;
}

async function abortUpload(ctx: S3Context, key: string, uploadId: string): Promise<boolean> {
  try {
    await ctx.client.send(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: key, UploadId: uploadId }));
    return true;
  } catch (error) {
    // Gone meanwhile (another sweep, or the writer's own abort): nothing left to do.
    if ((error as { name?: string }).name !== 'NoSuchUpload') throw error;
    return false;
  }
}

/**
 * A killed writer leaves an unfinished multipart upload: invisible, but billed. Aborts those of
 * keys starting with `keyPrefix` that began more than `olderThanMs` ago.
 */
export async function sweepMultipartUploads(ctx: S3Context, keyPrefix: string, olderThanMs: number): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  let removed = 0;
  const pages = listingPages(
    (marker: { key: string; uploadId: string | undefined } | undefined) =>
      ctx.client.send(
        new ListMultipartUploadsCommand({
          Bucket: ctx.bucket,
          Prefix: ctx.objectKey(keyPrefix),
          ...(marker ? { KeyMarker: marker.key } : {}),
          ...(marker?.uploadId ? { UploadIdMarker: marker.uploadId } : {}),
        }),
      ),
    (page) => (page.NextKeyMarker ? { key: page.NextKeyMarker, uploadId: page.NextUploadIdMarker } : undefined),
  );
  try {
    for await (const page of pages) {
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || !isAbandoned(upload, cutoff, olderThanMs)) continue;
        if (await abortUpload(ctx, upload.Key, upload.UploadId)) removed += 1;
      }
    }
  } catch (error) {
    throw translateS3Error(error, ctx.errors, 'remove', keyPrefix, 'ListMultipartUploads/AbortMultipartUpload');
  }
  return removed;
}
