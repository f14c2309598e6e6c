import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadRange } from '../contract.ts';
import { STREAM_CHUNK_BYTES } from '../shared/streams.ts';
import type { LocalFail } from './errors.ts';

/** A stream over `[range.start, range.end)` of a file; the file is opened before it returns, so a missing one fails here. */
export async function openLocalRead(
  key: string,
  file: string,
  range: ReadRange | undefined,
  fail: LocalFail,
): Promise<Readable> {
  try {
    const handle = await open(file, 'r');
    if (range && range.end === range.start) {
      await handle.close();
      return Readable.from([]);
    }
    const bounds = range ? { start: range.start, ...(range.end !== undefined ? { end: range.end - 1 } : {}) } : {};
    return createReadStream('', { fd: handle, autoClose: true, highWaterMark: STREAM_CHUNK_BYTES, ...bounds });
  } catch (error) {
    throw fail('read', key, error);
  }
}
