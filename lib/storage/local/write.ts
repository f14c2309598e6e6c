import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fsyncPath } from '../../durable-files.ts';
import type { AtomicWrite } from '../contract.ts';
import { partialWrite } from '../shared/atomic-write.ts';
import { partialName } from '../shared/partial-files.ts';
import { STREAM_CHUNK_BYTES } from '../shared/streams.ts';
import type { LocalFail } from './errors.ts';

/** Below this much free space a write is refused before it starts. */
const MIN_FREE_BYTES = 16 * 1024 * 1024;

async function prepareDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const fs = await statfs(dir);
  if (fs.bavail * fs.bsize < MIN_FREE_BYTES) {
    throw Object.assign(new Error(`only ${fs.bavail * fs.bsize} bytes free in ${dir}`), { code: 'ENOSPC' });
  }
}

/** The caller sees the storage's words (kind no_space for a full disk), not a bare errno. */
function translatingStream(file: WriteStream, translate: (error: unknown) => Error): Writable {
  const stream = new Writable({
    highWaterMark: STREAM_CHUNK_BYTES,
    write(chunk: Buffer, _encoding, callback) {
      file.write(chunk, (error) => callback(error ? translate(error) : null));
    },
    final(callback) {
      file.end((error?: Error | null) => callback(error ? translate(error) : null));
    },
    destroy(error, callback) {
      file.destroy();
      callback(error);
    },
  });
  file.on('error', (error) => stream.destroy(translate(error)));
  return stream;
}

const closed = (file: WriteStream): Promise<void> =>
  file.closed ? Promise.resolve() : new Promise<void>((resolve) => file.once('close', () => resolve()));

/**
 * Writes go to a hidden partial file, are fsynced, then renamed: rename(2) is atomic within a
 * file system, so a reader sees the whole object or none of it. The directory is fsynced too, so
 * the rename survives a crash.
 */
export async function openLocalWrite(
  label: string,
  key: string,
  target: string,
  fail: LocalFail,
): Promise<AtomicWrite> {
  const dir = path.dirname(target);
  try {
    await prepareDirectory(dir);
  } catch (error) {
    throw fail('write', key, error);
  }
  const partial = path.join(dir, partialName(path.basename(target)));
  const file = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
  const stream = translatingStream(file, (error) => fail('write', key, error));
  return partialWrite({
    label,
    key,
    stream,
    async publish() {
      await closed(file);
      await fsyncPath(partial);
      await rename(partial, target);
      await fsyncPath(dir);
      const info = await stat(target);
      return { key, size: info.size, modifiedAt: info.mtime };
    },
    async discard() {
      // The file may still be opening: wait until the stream has closed it, then remove it.
      stream.destroy();
      const fileClosed = closed(file);
      file.destroy();
      await fileClosed;
      await rm(partial, { force: true });
    },
    explain: (error) => fail('write', key, error),
  });
}
