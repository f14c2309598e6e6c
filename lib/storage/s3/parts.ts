import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { STREAM_CHUNK_BYTES } from '../shared/streams.ts';

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

/** A part being filled or uploaded: in memory, or spooled to an unlinked temp file. */
export interface PartBuffer {
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

export class MemoryPart implements PartBuffer {
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

export class SpooledPart implements PartBuffer {
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
    return this.handle.createReadStream({
      start: 0,
      end: this.size - 1,
      autoClose: false,
      highWaterMark: STREAM_CHUNK_BYTES,
    });
  }
  async release(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}
