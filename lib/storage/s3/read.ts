import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import type { ObjectInfo, ReadRange, StorageOperation } from '../contract.ts';
import { translatedStream } from '../shared/streams.ts';
import type { S3Context } from './client.ts';
import { translateS3Error } from './errors.ts';

/** A missing object, as opposed to a missing bucket (a settings problem). */
export function isMissing(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e.name === 'NoSuchKey' ||
    e.name === 'NotFound' ||
    (e.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket')
  );
}

export async function headObject(
  ctx: S3Context,
  key: string,
  operation: StorageOperation = 'stat',
): Promise<ObjectInfo | undefined> {
  try {
    const info = await ctx.client.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: ctx.objectKey(key) }));
    return { key, size: info.ContentLength ?? 0, modifiedAt: info.LastModified ?? new Date(0) };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw translateS3Error(error, ctx.errors, operation, key, 'HeadObject');
  }
}

/** GetObject with the range as an HTTP Range header; errors in mid-stream are translated too. */
export async function openS3Read(
  ctx: S3Context,
  readClient: S3Client,
  key: string,
  range: ReadRange | undefined,
): Promise<Readable> {
  const fail = (error: unknown) => translateS3Error(error, ctx.errors, 'read', key, 'GetObject');
  if (range && range.end === range.start) {
    if (!(await headObject(ctx, key)))
      throw translateS3Error(
        { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } },
        ctx.errors,
        'read',
        key,
        'HeadObject',
      );
    return Readable.from([]);
  }
  const rangeHeader =
    range && (range.start > 0 || range.end !== undefined)
      ? `bytes=${range.start}-${range.end !== undefined ? range.end - 1 : ''}`
      : undefined;
  let body: Readable;
  try {
    const response = await readClient.send(
      new GetObjectCommand({
        Bucket: ctx.bucket,
        Key: ctx.objectKey(key),
        ...(rangeHeader ? { Range: rangeHeader } : {}),
      }),
    );
    body = response.Body as Readable;
  } catch (error) {
    // A range starting at or past the end reads nothing, as it does from a file.
    if ((error as { name?: string }).name === 'InvalidRange' && range) return Readable.from([]);
    throw fail(error);
  }
  return translatedStream(body, fail);
}
