import { PassThrough, Writable, type Readable } from 'node:stream';

/** Chunk size of the streams drivers hand out: large enough that per-chunk costs stay small. */
export const STREAM_CHUNK_BYTES = 256 * 1024;
/** Buffer of streams over a network transfer (sftp, ftp): enough to keep a link with latency busy. */
export const TRANSFER_BUFFER_BYTES = 1024 * 1024;

/**
 * Hands a provider's download to the caller with its errors (a reset connection mid-stream)
 * translated into the storage's words, and releases the download if the caller stops reading.
 */
export function translatedStream(source: Readable, onError: (error: unknown) => Error): Readable {
  const out = new PassThrough({ highWaterMark: STREAM_CHUNK_BYTES });
  source.on('error', (error) => out.destroy(onError(error)));
  out.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

/**
 * The Writable of an upload whose steps are promises (S3 parts, Azure blocks): `write` takes each
 * chunk and `final` finishes the upload; a rejection fails the stream with the error `fail` makes
 * of it. `destroy` is the Writable's own hook, for a caller that gives up.
 */
export function promiseWritable(steps: {
  write(chunk: Buffer): Promise<void>;
  final(): Promise<void>;
  fail(error: unknown): Error;
  destroy?(error: Error | null, callback: (error?: Error | null) => void): void;
}): Writable {
  const settle = (work: Promise<void>, callback: (error?: Error | null) => void): void => {
    work.then(
      () => callback(),
      (error: unknown) => callback(steps.fail(error)),
    );
  };
  return new Writable({
    write: (chunk: Buffer, _encoding, callback) => settle(steps.write(chunk), callback),
    final: (callback) => settle(steps.final(), callback),
    ...(steps.destroy ? { destroy: steps.destroy } : {}),
  });
}

/** Every byte of a stream; only for small objects (a connection test's probe). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `[start, end)` of a range clamped to an object of `size` bytes; empty when it starts past the end. */
export function clampRange(
  range: { start: number; end?: number } | undefined,
  size: number,
): { start: number; end: number } {
  const start = Math.min(range?.start ?? 0, size);
  const end = Math.min(range?.end ?? size, size);
  return { start, end: Math.max(start, end) };
}
