import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type S3ClientConfig,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { z } from 'zod';
import { HindsightError } from '../errors.ts';
import { assertRange, assertSafeKey, type AtomicWrite, type ObjectInfo, type StorageDriver, type StorageOperation } from './contract.ts';
import { translateS3Error, type S3ErrorContext } from './s3-errors.ts';

/** Storage classes whose objects can be read back at once; archive classes would need a restore first. */
const READABLE_STORAGE_CLASSES = ['STANDARD', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR', 'REDUCED_REDUNDANCY', 'EXPRESS_ONEZONE'] as const;

export const s3StorageConfig = z
  .object({
    type: z.literal('s3'),
    bucket: z
      .string({ error: 'bucket is required' })
      .min(1, 'bucket is required')
      .max(255, 'bucket name is too long')
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'bucket must be a bare bucket name (letters, digits, dots, hyphens), not a path or URL'),
    region: z.string().min(1, 'region must not be empty').default('us-east-1'),
    endpoint: z
      .url({ protocol: /^https?$/, error: 'endpoint must be an http(s) URL, e.g. https://<account>.r2.cloudflarestorage.com' })
      .optional(),
    forcePathStyle: z.boolean().default(false),
    prefix: z
      .string()
      .refine((p) => !p.startsWith('/'), 'prefix must not start with "/"')
      .refine((p) => p === '' || p.replace(/\/+$/, '').split('/').every((part) => part !== '' && part !== '.' && part !== '..'), 'prefix must be a relative path such as "hindsight/" (no empty, "." or ".." parts)')
      .optional(),
    storageClass: z.enum(READABLE_STORAGE_CLASSES, { error: `storageClass must be one of ${READABLE_STORAGE_CLASSES.join(', ')} (archive classes cannot be read back without a restore)` }).optional(),
    serverSideEncryption: z.enum(['AES256', 'aws:kms'], { error: 'serverSideEncryption must be "AES256" or "aws:kms"' }).optional(),
    sseKmsKeyId: z.string().min(1, 'sseKmsKeyId must not be empty').optional(),
    accessKeyId: z.string().min(1, 'accessKeyId must not be empty').optional(),
    secretAccessKey: z.string().min(1, 'secretAccessKey must not be empty').optional(),
    sessionToken: z.string().min(1, 'sessionToken must not be empty').optional(),
  })
  .refine((c) => c.region !== 'auto' || c.endpoint !== undefined, { message: 'region "auto" needs an endpoint (it is meant for Cloudflare R2)', path: ['region'] })
  .refine((c) => c.sseKmsKeyId === undefined || c.serverSideEncryption === 'aws:kms', { message: 'sseKmsKeyId needs serverSideEncryption "aws:kms"', path: ['sseKmsKeyId'] })
  .refine((c) => (c.accessKeyId === undefined) === (c.secretAccessKey === undefined), { message: 'accessKeyId and secretAccessKey go together: set both, or neither to use the default credential chain', path: ['secretAccessKey'] })
  .refine((c) => c.sessionToken === undefined || c.accessKeyId !== undefined, { message: 'sessionToken needs accessKeyId and secretAccessKey', path: ['sessionToken'] });

export type S3StorageConfig = z.infer<typeof s3StorageConfig>;

export const s3SecretFields = ['secretAccessKey', 'sessionToken'] as const;

const MiB = 1024 * 1024;

/**
 * Part sizes. S3 allows 10,000 parts of 5 MiB to 5 GiB. Part n is 5 MiB × 2^floor((n-1)/1000):
 * 1,000 parts of 5 MiB (4.9 GiB), then 1,000 of 10 MiB, and so on up to 2.5 GiB parts, so a single
 * streamed object can reach 5 MiB × 1000 × (2^10 − 1) ≈ 4.9 TiB, the S3 object limit.
 */
export function s3PartSize(partNumber: number): number {
  return 5 * MiB * 2 ** Math.floor((partNumber - 1) / 1000);
}
export const S3_MAX_PARTS = 10_000;
/** Parts uploading at once; with one more part filling, at most 3 × 5 MiB = 15 MiB are held in memory. */
const MAX_IN_FLIGHT = 2;
/**
 * Parts up to this number (the 5 MiB ones) are held in memory; larger parts are spooled to an
 * unlinked file in the temp directory, so memory stays at one chunk in transit per part while
 * disk holds at most three parts (≤ 7.5 GiB, only for objects beyond 2.4 TiB).
 */
const MEMORY_PARTS = 1000;
/** Connection failures must surface in seconds: 3 attempts × 3 s connect timeout. */
const CONNECT_TIMEOUT_MS = 3000;
const MAX_ATTEMPTS = 3;
/** A server that accepted a request but went silent; uploads keep the socket busy while sending. */
const SOCKET_IDLE_TIMEOUT_MS = 30_000;
/**
 * Reads wait at most this long for the response headers. The body then has no idle limit: a
 * restore may stop reading for a long while (an index build) and the stream must survive that.
 */
const READ_HEADERS_TIMEOUT_MS = 30_000;

/** Knobs for tests; production uses the defaults. */
export interface S3Tuning {
  /** Parts numbered up to this are buffered in memory, later ones spooled to disk. */
  memoryParts?: number;
  /** Called whenever the memory held by an open write changes: the part buffers filling or uploading. */
  onBufferedBytes?: (bytes: number) => void;
}

/** A part being filled or uploaded: in memory, or spooled to an unlinked temp file. */
interface PartBuffer {
  readonly number: number;
  readonly capacity: number;
  readonly inMemory: boolean;
  size: number;
  /** Bytes of memory this part occupies (its buffer's allocation, not its fill). */
  readonly memoryBytes: number;
  append(bytes: Buffer): Promise<void> | void;
  /** A fresh body for each attempt: a Buffer, or a stream over the spool file. */
  body(): Buffer | Readable;
  release(): Promise<void>;
}

class MemoryPart implements PartBuffer {
  readonly inMemory = true;
  size = 0;
  private data: Buffer;
  readonly number: number;
  readonly capacity: number;
  constructor(number: number, capacity: number, growable: boolean) {
    this.number = number;
    this.capacity = capacity;
    // The first part grows so a small object costs little; later parts are known to fill up.
    this.data = Buffer.allocUnsafe(growable ? Math.min(256 * 1024, capacity) : capacity);
  }
  get memoryBytes(): number {
    return this.data.length;
  }
  append(bytes: Buffer): void {
    if (this.size + bytes.length > this.data.length) {
      let length = this.data.length;
      while (length < this.size + bytes.length) length *= 2;
      const grown = Buffer.allocUnsafe(Math.min(length, this.capacity));
      this.data.copy(grown, 0, 0, this.size);
      this.data = grown;
    }
    bytes.copy(this.data, this.size);
    this.size += bytes.length;
  }
  body(): Buffer {
    return this.data.subarray(0, this.size);
  }
  async release(): Promise<void> {
    this.data = Buffer.alloc(0);
  }
}

class SpooledPart implements PartBuffer {
  readonly inMemory = false;
  readonly memoryBytes = 0;
  size = 0;
  readonly number: number;
  readonly capacity: number;
  private readonly handle: FileHandle;
  private constructor(number: number, capacity: number, handle: FileHandle) {
    this.number = number;
    this.capacity = capacity;
    this.handle = handle;
  }
  static async create(number: number, capacity: number): Promise<SpooledPart> {
    const file = path.join(tmpdir(), `hindsight-s3-part-${randomBytes(8).toString('hex')}`);
    const handle = await open(file, 'wx+', 0o600);
    // Unlinked at once: a killed worker leaves no file behind; the open handle keeps the data.
    await unlink(file);
    return new SpooledPart(number, capacity, handle);
  }
  async append(bytes: Buffer): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.size + done);
      done += bytesWritten;
    }
    this.size += bytes.length;
  }
  body(): Readable {
    if (this.size === 0) return Readable.from([]);
    return this.handle.createReadStream({ start: 0, end: this.size - 1, autoClose: false, highWaterMark: 256 * 1024 });
  }
  async release(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

interface DriverContext {
  client: S3Client;
  /** Uploads spooled parts; built without SDK retries since a stream body cannot be replayed. */
  streamClient: () => S3Client;
  bucket: string;
  objectKey: (key: string) => string;
  errors: S3ErrorContext;
  putOptions: { StorageClass?: StorageClass; ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string };
  tuning: S3Tuning;
}

/**
 * One streamed write. Bytes fill a part; a full part is uploaded while the next one fills, with
 * at most MAX_IN_FLIGHT uploads at once. The write callback waits while a full part has no free
 * upload slot, which is the backpressure that bounds memory. An object below one part is sent
 * with a single PutObject on commit; nothing is visible under the key before commit.
 */
class S3Write implements AtomicWrite {
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

  private readonly ctx: DriverContext;
  private readonly key: string;
  constructor(ctx: DriverContext, key: string) {
    this.ctx = ctx;
    this.key = key;
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.accept(chunk).then(() => callback(), (error: unknown) => callback(this.failWith(error)));
      },
      final: (callback) => {
        this.finish().then(() => {
          this.finalDone = true;
          callback();
        }, (error: unknown) => callback(this.failWith(error)));
      },
      destroy: (error, callback) => {
        // Destroyed before all bytes were uploaded: the caller gave up, so nothing may remain.
        if (!this.finalDone) {
          const why = error ? `was interrupted: ${error.message}` : 'was destroyed before it finished';
          this.fail(error instanceof HindsightError ? error : new HindsightError('tool_failed', `storage ${ctx.errors.label}: the write of '${key}' ${why}`));
        }
        callback(error);
      },
    });
  }

  private translate(error: unknown, action: string): HindsightError {
    return translateS3Error(error, this.ctx.errors, 'write', this.key, action);
  }

  /** Turns an error of the write path into the failure of the whole write. */
  private failWith(error: unknown): HindsightError {
    const code = (error as NodeJS.ErrnoException).code;
    const failure = code === 'ENOSPC' || code === 'EDQUOT'
      ? new HindsightError('no_space', `storage ${this.ctx.errors.label}: unable to write '${this.key}': the temp directory ${tmpdir()} that holds parts being uploaded is full (${(error as Error).message})`)
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
      throw new HindsightError('no_space', `storage ${this.ctx.errors.label}: unable to write '${this.key}': the object exceeds the largest size a streamed S3 upload can hold (${S3_MAX_PARTS} parts)`);
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
          new CreateMultipartUploadCommand({ Bucket: this.ctx.bucket, Key: this.ctx.objectKey(this.key), ...this.ctx.putOptions }),
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
      const input = { Bucket: this.ctx.bucket, Key: this.ctx.objectKey(this.key), UploadId: uploadId, PartNumber: part.number, ContentLength: part.size };
      let result;
      if (part.inMemory) {
        result = await this.ctx.client.send(new UploadPartCommand({ ...input, Body: part.body() }), { abortSignal: this.cancel.signal });
      } else {
        // A stream body cannot be replayed by the SDK, so spooled parts are retried here.
        for (let attempt = 1; ; attempt += 1) {
          try {
            result = await this.ctx.streamClient().send(new UploadPartCommand({ ...input, Body: part.body() }), { abortSignal: this.cancel.signal });
            break;
          } catch (error) {
            const kind = this.translate(error, 'UploadPart').kind;
            if (attempt >= MAX_ATTEMPTS || this.cancel.signal.aborted || (kind !== 'unreachable' && kind !== 'tool_failed')) throw error;
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
        .send(new AbortMultipartUploadCommand({ Bucket: this.ctx.bucket, Key: this.ctx.objectKey(this.key), UploadId: uploadId }))
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
    if (this.settled) throw new HindsightError('bad_input', `storage ${this.ctx.errors.label}: the write of '${this.key}' was already committed or aborted`);
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
        await this.ctx.client.send(new CompleteMultipartUploadCommand({ ...target, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      } else {
        action = 'PutObject';
        const body = this.current?.body() ?? Buffer.alloc(0);
        await this.ctx.client.send(new PutObjectCommand({ ...target, Body: body, ContentLength: this.current?.size ?? 0, ...this.ctx.putOptions }));
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
    this.failure ??= new HindsightError('tool_failed', `storage ${this.ctx.errors.label}: the write of '${this.key}' was aborted`);
    this.cancel.abort();
    if (!this.stream.destroyed) this.stream.destroy();
    await this.discard();
  }
}

function normalizePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : '';
}

/** Prefixes for list and sweep may be partial key names, but never absolute or climbing. */
function assertSafePrefix(prefix: string): void {
  if (prefix === '') return;
  if (prefix.startsWith('/') || prefix.split('/').some((part) => part === '..' || part === '.') || prefix.includes('\0')) {
    throw new HindsightError('bad_input', `storage prefix '${prefix}' is not a safe relative path`);
  }
}

/**
 * An S3 bucket, or any S3-compatible store (MinIO, Cloudflare R2, Backblaze B2, Wasabi) through
 * `endpoint`. Writes use multipart uploads, which S3 shows only when completed; that completion is
 * the atomic commit.
 */
export function createS3Storage(options: { name: string; config: S3StorageConfig; tuning?: S3Tuning }): StorageDriver {
  const label = `s3 "${options.name}"`;
  const parsed = s3StorageConfig.safeParse(options.config);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`).join('; ');
    throw new HindsightError('bad_input', `storage ${label}: invalid settings: ${issues}`);
  }
  const config = parsed.data;
  const prefix = normalizePrefix(config.prefix);
  const endpoint = config.endpoint ?? `https://s3.${config.region}.amazonaws.com`;
  const errors: S3ErrorContext = {
    label,
    bucket: config.bucket,
    endpoint,
    secrets: [config.secretAccessKey, config.sessionToken].filter((s): s is string => Boolean(s)),
  };

  type Role = 'control' | 'stream' | 'read';
  const clientConfig = (role: Role): S3ClientConfig => ({
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    maxAttempts: role === 'stream' ? 1 : MAX_ATTEMPTS,
    requestHandler:
      role === 'read'
        ? { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: READ_HEADERS_TIMEOUT_MS, throwOnRequestTimeout: true, socketTimeout: 0 }
        : { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: SOCKET_IDLE_TIMEOUT_MS },
    ...(config.endpoint
      ? {
          endpoint: config.endpoint,
          // Many S3-compatible stores reject the SDK's default CRC trailers; integrity is checked
          // by the backup format itself.
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : { followRegionRedirects: true }),
    ...(config.accessKeyId && config.secretAccessKey
      ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}) } }
      : {}),
  });

  const client = new S3Client(clientConfig('control'));
  let streamClient: S3Client | undefined;
  let readClient: S3Client | undefined;
  const ctx: DriverContext = {
    client,
    streamClient: () => (streamClient ??= new S3Client(clientConfig('stream'))),
    bucket: config.bucket,
    objectKey: (key) => `${prefix}${key}`,
    errors,
    putOptions: {
      ...(config.storageClass ? { StorageClass: config.storageClass } : {}),
      ...(config.serverSideEncryption ? { ServerSideEncryption: config.serverSideEncryption } : {}),
      ...(config.sseKmsKeyId ? { SSEKMSKeyId: config.sseKmsKeyId } : {}),
    },
    tuning: options.tuning ?? {},
  };
  const fail = (error: unknown, operation: StorageOperation, key: string, action: string) => translateS3Error(error, errors, operation, key, action);
  const isMissing = (error: unknown) => {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    return e.name === 'NoSuchKey' || e.name === 'NotFound' || (e.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket');
  };

  async function head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await client.send(new HeadObjectCommand({ Bucket: config.bucket, Key: ctx.objectKey(key) }));
      return { key, size: info.ContentLength ?? 0, modifiedAt: info.LastModified ?? new Date(0) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw fail(error, 'stat', key, 'HeadObject');
    }
  }

  return {
    label,

    async openWrite(key) {
      assertSafeKey(key);
      return new S3Write(ctx, key);
    },

    async openRead(key, range) {
      assertSafeKey(key);
      assertRange(range);
      if (range && range.end === range.start) {
        if (!(await head(key))) throw fail({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }, 'read', key, 'HeadObject');
        return Readable.from([]);
      }
      const rangeHeader = range && (range.start > 0 || range.end !== undefined) ? `bytes=${range.start}-${range.end !== undefined ? range.end - 1 : ''}` : undefined;
      let body: Readable;
      try {
        readClient ??= new S3Client(clientConfig('read'));
        const response = await readClient.send(new GetObjectCommand({ Bucket: config.bucket, Key: ctx.objectKey(key), ...(rangeHeader ? { Range: rangeHeader } : {}) }));
        body = response.Body as Readable;
      } catch (error) {
        // A range starting at or past the end reads nothing, as it does from a file.
        if ((error as { name?: string }).name === 'InvalidRange' && range) return Readable.from([]);
        throw fail(error, 'read', key, 'GetObject');
      }
      // Errors in mid-stream (a reset connection) are translated too.
      async function* guarded(): AsyncGenerator<Buffer> {
        try {
          for await (const chunk of body) yield chunk as Buffer;
        } catch (error) {
          throw fail(error, 'read', key, 'GetObject');
        } finally {
          body.destroy();
        }
      }
      return Readable.from(guarded(), { objectMode: false, highWaterMark: 256 * 1024 });
    },

    stat: head,

    async list(dir) {
      assertSafePrefix(dir);
      const listPrefix = `${prefix}${dir ? `${dir.replace(/\/+$/, '')}/` : ''}`;
      const out: ObjectInfo[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: config.bucket, Prefix: listPrefix, ...(token ? { ContinuationToken: token } : {}) }));
          for (const object of page.Contents ?? []) {
            // Keys ending in "/" are folder markers made by consoles, not objects of ours.
            if (!object.Key || object.Key.endsWith('/')) continue;
            out.push({ key: object.Key.slice(prefix.length), size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) });
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      } catch (error) {
        throw fail(error, 'list', dir, 'ListObjectsV2');
      }
      return out.sort((a, b) => a.key.localeCompare(b.key));
    },

    async remove(key) {
      assertSafeKey(key);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: ctx.objectKey(key) }));
      } catch (error) {
        if (isMissing(error)) return;
        throw fail(error, 'remove', key, 'DeleteObject');
      }
    },

    async sweepAbandonedWrites(keyPrefix, olderThanMs) {
      assertSafePrefix(keyPrefix);
      const cutoff = Date.now() - olderThanMs;
      let removed = 0;
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      try {
        do {
          const page = await client.send(
            new ListMultipartUploadsCommand({
              Bucket: config.bucket,
              Prefix: `${prefix}${keyPrefix}`,
              ...(keyMarker ? { KeyMarker: keyMarker } : {}),
              ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
            }),
          );
          for (const upload of page.Uploads ?? []) {
            if (!upload.Key || !upload.UploadId) continue;
            // Without a start time its age is unknown: only a sweep of everything takes it.
            if (upload.Initiated ? upload.Initiated.getTime() > cutoff : olderThanMs > 0) continue;
            try {
              await client.send(new AbortMultipartUploadCommand({ Bucket: config.bucket, Key: upload.Key, UploadId: upload.UploadId }));
              removed += 1;
            } catch (error) {
              // Gone meanwhile (another sweep, or the writer's own abort): nothing left to do.
              if ((error as { name?: string }).name !== 'NoSuchUpload') throw error;
            }
          }
          keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
          uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
        } while (keyMarker);
      } catch (error) {
        throw fail(error, 'remove', keyPrefix, 'ListMultipartUploads/AbortMultipartUpload');
      }
      return removed;
    },

    async close() {
      client.destroy();
      streamClient?.destroy();
      readClient?.destroy();
    },
  };
}
