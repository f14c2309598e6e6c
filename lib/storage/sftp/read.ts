import { Readable } from 'node:stream';
import type { SFTPWrapper, Stats } from 'ssh2';
import type { ReadRange } from '../contract.ts';
import { clampRange, TRANSFER_BUFFER_BYTES } from '../shared/streams.ts';
import type { SftpFail } from './errors.ts';
import { call, handleCloser } from './session.ts';

const READ_CHUNK = 64 * 1024;
/** Reads kept in flight per download: round trips overlap instead of adding up. */
const READ_DEPTH = 16;

type ReadResult = { ok: true; at: number; length: number; data: Buffer } | { ok: false; error: unknown };

/** Reads `[start, end)` with READ_DEPTH requests in flight, delivering bytes in order. */
class SftpDownload extends Readable {
  private next: number;
  private readonly queue: Promise<ReadResult>[] = [];
  private pumping = false;
  private readonly closer: ReturnType<typeof handleCloser>;

  private readonly sftp: SFTPWrapper;
  private readonly handle: Buffer;
  private readonly end: number;
  private readonly translate: (error: unknown) => Error;
  constructor(sftp: SFTPWrapper, handle: Buffer, start: number, end: number, translate: (error: unknown) => Error) {
    super({ highWaterMark: TRANSFER_BUFFER_BYTES });
    this.sftp = sftp;
    this.handle = handle;
    this.closer = handleCloser(sftp, handle);
    this.end = end;
    this.translate = translate;
    this.next = start;
  }

  /** Every read settles: with the bytes, or with an error once the connection is gone. */
  private async readAt(at: number, length: number): Promise<ReadResult> {
    const buffer = Buffer.allocUnsafe(length);
    try {
      const bytesRead = await call<number>(this.sftp, (done) =>
        this.sftp.read(this.handle, buffer, 0, length, at, (error, read) => done(error, read)),
      );
      return { ok: true, at, length, data: buffer.subarray(0, bytesRead) };
    } catch (error) {
      return { ok: false, error };
    }
  }

  override _read(): void {
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        while (this.queue.length < READ_DEPTH && this.next < this.end) {
          const length = Math.min(READ_CHUNK, this.end - this.next);
          this.queue.push(this.readAt(this.next, length));
          this.next += length;
        }
        const head = this.queue.shift();
        if (!head) {
          this.push(null);
          return;
        }
        const result = await head;
        if (this.destroyed) return;
        if (!result.ok) {
          this.destroy(this.translate(result.error));
          return;
        }
        if (result.data.length === 0) {
          this.destroy(
            this.translate(new Error(`the file ended at byte ${result.at}, shorter than when it was opened`)),
          );
          return;
        }
        // Servers may answer with fewer bytes than asked; fetch the rest before moving on.
        if (result.data.length < result.length) {
          this.queue.unshift(this.readAt(result.at + result.data.length, result.length - result.data.length));
        }
        if (!this.push(result.data)) return;
      }
    } finally {
      this.pumping = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.closer.closeQuietly().then(() => callback(error));
  }
}

/** Opens the file and reads its size first, so that a missing file fails here and the range is clamped to what exists. */
export async function openSftpRead(
  sftp: SFTPWrapper,
  key: string,
  file: string,
  range: ReadRange | undefined,
  fail: SftpFail,
): Promise<Readable> {
  let handle: Buffer;
  let size: number;
  try {
    handle = await call<Buffer>(sftp, (done) => sftp.open(file, 'r', done));
    try {
      size = (await call<Stats>(sftp, (done) => sftp.fstat(handle, done))).size;
    } catch (error) {
      await call(sftp, (done) => sftp.close(handle, done)).catch(() => undefined);
      throw error;
    }
  } catch (error) {
    throw fail('read', key, error);
  }
  const { start, end } = clampRange(range, size);
  return new SftpDownload(sftp, handle, start, end, (error) => fail('read', key, error));
}
