import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { tmpdir } from 'node:os';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { HindsightError } from '../../errors.ts';
import type { AtomicWrite, ObjectInfo } from '../contract.ts';
import { promiseWritable } from '../shared/streams.ts';
import { CONNECTION_TEST_DIR } from '../connection-test.ts';
import { MAX_ATTEMPTS, type S3Context } from './client.ts';
import { lockHeaders, retainVersion } from './lock.ts';
import { translateS3Error } from './errors.ts';
import { MemoryPart, S3_MAX_PARTS, s3PartSize, SpooledPart, type PartBuffer } from './parts.ts';

/** Parts uploading at once; with one more part filling, at most 3 × 5 MiB = 15 MiB are held in memory. */
const MAX_IN_FLIGHT = 2;
/**
 * Parts up to this number (the 5 MiB ones) are held in memory; larger parts are spooled to an
 * unlinked file in the temp directory, so memory stays at one chunk in transit per part while
 * disk holds at most three parts (≤ 7.5 GiB, only for objects beyond 2.4 TiB).
 */
const MEMORY_PARTS = 1000;

/**
 * One streamed write. Bytes fill a part; a full part is uploaded while the next one fills, with
 * at most MAX_IN_FLIGHT uploads at once. The write callback waits while a full part has no free
 * upload slot, which is the backpressure that bounds memory. An object below one part is sent
 * with a single PutObject on commit; nothing is visible under the key before commit.
 */
export class S3Write implements AtomicWrite {
  readonly stream: Writable;
  private current: PartBuffer | undefined;
  private nextPart = 1;
  private readonly inFlight = new Map<number, Promise<void>>();
  private readonly completed: CompletedPart[] = [];
  private uploadId: Promise<string> | undefined;
  private failure: HindsightError | undefined;
  private readonly cancel = new AbortController();
  private bytesWritten = 0;
  private memoryHeld = 0;
  private finalDone = false;
  private settled = false;
  private cleanup: Promise<void> | undefined;

  private readonly ctx: S3Context;
  private readonly key: string;
  /** The lock a multipart upload is created with, applied again to the object it completes. */
  private readonly multipartLock: ReturnType<typeof lockHeaders>;
  constructor(ctx: S3Context, key: string) {
    this.ctx = ctx;
    this.key = key;
    this.multipartLock = this.lockHeaders();
    this.stream = promiseWritable({
      write: (chunk) => this.accept(chunk),
      final: async () => {
        await this.finish();
        this.finalDone = true;
      },
      fail: (error) => this.failWith(error),
      destroy: (error, callback) => {
        // Destroyed before all bytes were uploaded: the caller gave up, so nothing may remain.
        if (!this.finalDone) {
          const why = error ? `was interrupted: ${error.message}` : 'was destroyed before it finished';
          this.fail(
            error instanceof HindsightError
              ? error
              : new HindsightError('tool_failed', `storage ${ctx.errors.label}: the write of '${key}' ${why}`),
          );
        }
        callback(error);
      },
    });
  }

  /** Retention counts from the request that creates the object; the connection test's probe is no backup. */
  private lockHeaders(): ReturnType<typeof lockHeaders> {
    return this.key.startsWith(`${CONNECTION_TEST_DIR}/`) ? {} : lockHeaders(this.ctx.lock);
  }

  private translate(error: unknown, action: string): HindsightError {
    return translateS3Error(error, this.ctx.errors, 'write', this.key, action);
  }

  /** Turns an error of the write path into the failure of the whole write. */
  private failWith(error: unknown): HindsightError {
    const code = (error as NodeJS.ErrnoException).code;
    const failure =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? new HindsightError(
            'no_space',
            `storage ${this.ctx.errors.label}: unable to write '${this.key}': the temp directory ${tmpdir()} that holds parts being uploaded is full (${(error as Error).message})`,
          )
        : this.translate(error, 'UploadPart');
    this.fail(failure);
    return this.failure ?? failure;
  }

  private async release(part: PartBuffer): Promise<void> {
    const bytes = part.memoryBytes;
    await part.release();
    this.hold(-bytes);
  }

  private hold(delta: number): void {
    this.memoryHeld += delta;
    this.ctx.tuning.onBufferedBytes?.(this.memoryHeld);
  }

  private async newPart(): Promise<PartBuffer> {
    const number = this.nextPart;
    if (number > S3_MAX_PARTS) {
      throw new HindsightError(
        'no_space',
        `storage ${this.ctx.errors.label}: unable to write '${this.key}': the object exceeds the largest size a streamed S3 upload can hold (${S3_MAX_PARTS} parts)`,
      );
    }
    this.nextPart += 1;
    const capacity = s3PartSize(number);
    if (number <= (this.ctx.tuning.memoryParts ?? MEMORY_PARTS)) return new MemoryPart(number, capacity, number === 1);
    return SpooledPart.create(number, capacity);
  }

  private async accept(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.failure) throw this.failure;
      if (!this.current) {
        this.current = await this.newPart();
        this.hold(this.current.memoryBytes);
      }
      const part = this.current;
      const piece = chunk.subarray(offset, offset + (part.capacity - part.size));
      const before = part.memoryBytes;
      await part.append(piece);
      this.hold(part.memoryBytes - before);
      offset += piece.length;
      this.bytesWritten += piece.length;
      if (part.size === part.capacity) await this.ship();
    }
  }

  /** Waits for a free upload slot, then starts uploading the current part. */
  private async ship(): Promise<void> {
    while (this.inFlight.size >= MAX_IN_FLIGHT && !this.failure) await Promise.race(this.inFlight.values());
    if (this.failure) throw this.failure;
    const part = this.current;
    if (!part) return;
    this.current = undefined;
    let uploadId: string;
    try {
      uploadId = await this.startMultipart();
    } catch (error) {
      await this.release(part);
      throw error;
    }
    const upload = this.uploadPart(uploadId, part).finally(() => this.inFlight.delete(part.number));
    this.inFlight.set(part.number, upload);
  }

  private startMultipart(): Promise<string> {
    this.uploadId ??= (async () => {
      try {
        const created = await this.ctx.client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.ctx.bucket,
            Key: this.ctx.objectKey(this.key),
            ...this.ctx.putOptions,
            ...this.multipartLock,
          }),
          { abortSignal: this.cancel.signal },
        );
        if (!created.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
        return created.UploadId;
      } catch (error) {
        const failure = this.translate(error, 'CreateMultipartUpload');
        this.fail(failure);
        throw failure;
      }
    })();
    return this.uploadId;
  }

  /** Never rejects: a failure is recorded and ends the whole write. */
  private async uploadPart(uploadId: string, part: PartBuffer): Promise<void> {
    try {
      const input = {
        Bucket: this.ctx.bucket,
        Key: this.ctx.objectKey(this.key),
        UploadId: uploadId,
        PartNumber: part.number,
        ContentLength: part.size,
      };
      let result;
      if (part.inMemory) {
        result = await this.ctx.client.send(new UploadPartCommand({ ...input, Body: part.body() }), {
          abortSignal: this.cancel.signal,
        });
      } else {
        // A stream body cannot be replayed by the SDK, so spooled parts are retried here.
        for (let attempt = 1; ; attempt += 1) {
          try {
            result = await this.ctx
              .streamClient()
              .send(new UploadPartCommand({ ...input, Body: part.body() }), { abortSignal: this.cancel.signal });
            break;
          } catch (error) {
            const kind = this.translate(error, 'UploadPart').kind;
            if (
              attempt >= MAX_ATTEMPTS ||
              this.cancel.signal.aborted ||
              (kind !== 'unreachable' && kind !== 'tool_failed')
            )
              throw error;
            await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
          }
        }
      }
      if (!result.ETag) throw new Error(`UploadPart ${part.number} returned no ETag`);
      this.completed.push({ PartNumber: part.number, ETag: result.ETag });
    } catch (error) {
      this.fail(this.translate(error, 'UploadPart'));
    } finally {
      await this.release(part);
    }
  }

  /** Records the first failure and starts removing everything uploaded so far. */
  private fail(failure: HindsightError): void {
    this.failure ??= failure;
    void this.discard();
  }

  /** Cancels uploads, then aborts the multipart upload. Idempotent; never rejects. */
  private discard(): Promise<void> {
    this.cleanup ??= (async () => {
      this.cancel.abort();
      await Promise.allSettled(this.inFlight.values());
      if (this.current) {
        const part = this.current;
        this.current = undefined;
        await this.release(part);
      }
      const uploadId = await this.uploadId?.catch(() => undefined);
      if (!uploadId) return;
      // A fresh request, not bound to the cancelled signal. A failure here leaves the upload for
      // sweepAbandonedWrites; it never holds a visible object.
      await this.ctx.client
        .send(
          new AbortMultipartUploadCommand({
            Bucket: this.ctx.bucket,
            Key: this.ctx.objectKey(this.key),
            UploadId: uploadId,
          }),
        )
        .catch(() => undefined);
    })();
    return this.cleanup;
  }

  /** End of the stream: a started multipart upload gets its last part, and all parts finish. */
  private async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.uploadId && this.current && this.current.size > 0) await this.ship();
    await Promise.all(this.inFlight.values());
    if (this.failure) throw this.failure;
  }

  async commit(): Promise<ObjectInfo> {
    if (this.settled)
      throw new HindsightError(
        'bad_input',
        `storage ${this.ctx.errors.label}: the write of '${this.key}' was already committed or aborted`,
      );
    this.settled = true;
    let action = 'UploadPart';
    try {
      if (!this.stream.writableFinished) await finished(this.stream);
      if (this.failure) throw this.failure;
      const target = { Bucket: this.ctx.bucket, Key: this.ctx.objectKey(this.key) };
      if (this.uploadId) {
        action = 'CompleteMultipartUpload';
        const uploadId = await this.uploadId;
        const parts = [...this.completed].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
        const done = await this.ctx.client.send(
          new CompleteMultipartUploadCommand({ ...target, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        );
        action = 'PutObjectRetention';
        await retainVersion(this.ctx, target.Key, done.VersionId, this.multipartLock);
      } else {
        action = 'PutObject';
        const body = this.current?.body() ?? Buffer.alloc(0);
        await this.ctx.client.send(
          new PutObjectCommand({
            ...target,
            Body: body,
            ContentLength: this.current?.size ?? 0,
            ...this.ctx.putOptions,
            ...this.lockHeaders(),
          }),
        );
        const part = this.current;
        this.current = undefined;
        if (part) await this.release(part);
      }
      return { key: this.key, size: this.bytesWritten, modifiedAt: new Date() };
    } catch (error) {
      // The first failure tells the cause; a stream error seen here is only its echo.
      this.failure ??= this.translate(error, action);
      await this.discard();
      throw this.failure;
    }
  }

  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.failure ??= new HindsightError(
      'tool_failed',
      `storage ${this.ctx.errors.label}: the write of '${this.key}' was aborted`,
    );
    this.cancel.abort();
    if (!this.stream.destroyed) this.stream.destroy();
    await this.discard();
  }
}
