import { PassThrough, Readable, Writable } from 'node:stream';
import type { ReadRange } from '../contract.ts';
import { clampRange, STREAM_CHUNK_BYTES, TRANSFER_BUFFER_BYTES } from '../shared/streams.ts';
import type { FtpConnections } from './connection.ts';
import type { FtpFail } from './errors.ts';

/**
 * Passes the first `limit` bytes of a download to `out`, then calls `stop`: FTP has no end
 * offset, so the connection is simply dropped. Reports how many bytes it passed.
 */
function limitedSink(
  out: PassThrough,
  limit: number,
  stop: () => void,
): { sink: Writable; received: () => number; markDone: () => boolean } {
  let received = 0;
  let done = false;
  const sink = new Writable({
    highWaterMark: STREAM_CHUNK_BYTES,
    write(chunk: Buffer, _encoding, callback) {
      if (done) {
        callback();
        return;
      }
      const piece = received + chunk.length > limit ? chunk.subarray(0, limit - received) : chunk;
      received += piece.length;
      const more = out.write(piece);
      if (received >= limit) {
        done = true;
        out.end();
        stop();
        callback();
      } else if (more) callback();
      else out.once('drain', () => callback());
    },
  });
  sink.on('error', () => undefined);
  return {
    sink,
    received: () => received,
    // True for the first caller only: whoever settles the stream first.
    markDone: () => {
      if (done) return false;
      done = true;
      return true;
    },
  };
}

/** Downloads `[range.start, range.end)` over a connection of its own, asking the size first so a missing file fails here. */
export async function openFtpRead(
  connections: FtpConnections,
  key: string,
  file: string,
  range: ReadRange | undefined,
  fail: FtpFail,
): Promise<Readable> {
  const client = await connections.transferClient();
  let size: number;
  try {
    size = await client.size(file);
  } catch (error) {
    connections.release(client);
    throw fail('read', key, error);
  }
  const { start, end } = clampRange(range, size);
  const limit = end - start;
  if (limit === 0) {
    connections.release(client);
    return Readable.from([]);
  }
  const out = new PassThrough({ highWaterMark: TRANSFER_BUFFER_BYTES });
  const stop = () => connections.release(client);
  const download = limitedSink(out, limit, stop);
  // The reader stopped early: end the transfer with it.
  out.once('close', () => {
    if (download.markDone()) stop();
  });
  void client
    .downloadTo(download.sink, file, start)
    .then(
      () => {
        if (!download.markDone()) return;
        const received = download.received();
        if (received < limit)
          out.destroy(fail('read', key, new Error(`the transfer ended after ${received} of ${limit} bytes`)));
        else out.end();
      },
      (error: unknown) => {
        if (download.markDone()) out.destroy(fail('read', key, error));
      },
    )
    .finally(stop);
  return out;
}
