import type { ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { HindsightError } from '../../errors.ts';
import { storageError, type AtomicWrite } from '../contract.ts';
import { partialWrite } from '../shared/atomic-write.ts';
import { partialKeyOf } from '../shared/partial-files.ts';
import { STREAM_CHUNK_BYTES } from '../shared/streams.ts';
import type { Exit } from './errors.ts';
import type { RcloneRunner } from './process.ts';

/**
 * The Writable handed to the caller, feeding rclone's stdin. Backpressure is the pipe to rclone;
 * this stream only holds its own highWaterMark on top of it. It finishes only once rclone has
 * stored every byte, so a failed upload fails the writer's pipeline, not only commit().
 */
function stdinStream(child: ChildProcess, exited: Promise<Exit>, failure: (ended: Exit) => HindsightError): Writable {
  const stdin = child.stdin!;
  // EPIPE when rclone exits early; its exit status and stderr say why.
  stdin.on('error', () => undefined);
  let exit: Exit | undefined;
  // One waiter at a time.
  let waiting: { resolve(): void; reject(error: Error): void } | undefined;
  stdin.on('drain', () => {
    const waiter = waiting;
    waiting = undefined;
    waiter?.resolve();
  });
  void exited.then((ended) => {
    exit = ended;
    const waiter = waiting;
    waiting = undefined;
    waiter?.reject(failure(ended));
  });
  return new Writable({
    highWaterMark: STREAM_CHUNK_BYTES,
    write(chunk: Buffer, _encoding, callback) {
      if (exit) return callback(failure(exit));
      if (stdin.write(chunk)) return callback();
      waiting = { resolve: () => callback(), reject: (error) => callback(error) };
    },
    final(callback) {
      stdin.end();
      void exited.then((ended) => callback(ended.code === 0 ? undefined : failure(ended)));
    },
    destroy(error, callback) {
      if (!exit) child.kill('SIGTERM');
      callback(error);
    },
  });
}

/**
 * Streams into `rclone rcat <dir>/.<base>.partial-<random>`; commit renames the partial onto the
 * key with `rclone moveto`.
 */
export async function openRcloneWrite(runner: RcloneRunner, key: string): Promise<AtomicWrite> {
  const { label } = runner;
  const partialKey = partialKeyOf(key);
  // A longer idle timeout for uploads: the source may pause for minutes (a dump waiting on a
  // lock) while a streaming backend holds its upload connection open. Chunked backends buffer
  // in the rclone process, not here (S3: chunk size × upload concurrency, 20 MiB by default;
  // lower with --s3-upload-concurrency in extraFlags).
  const { child, exited } = await runner.start('write', key, ['rcat', runner.at(partialKey)], { stdin: 'pipe', stdout: 'ignore' }, '10m');
  const failure = (ended: Exit): HindsightError =>
    ended.code === 0 && !ended.signal ? storageError('tool_failed', label, 'write', key, 'rclone stopped reading before the upload ended') : runner.fail('write', key, ended);
  const stream = stdinStream(child, exited, failure);
  return partialWrite({
    label,
    key,
    stream,
    async publish() {
      // --ignore-times: without it rclone skips a "same size and time" destination and
      // only deletes the source, keeping the old bytes under the key.
      await runner.runChecked('write', key, ['moveto', '--ignore-times', runner.at(partialKey), runner.at(key)]);
      const info = await runner.statObject('write', key);
      if (!info) throw storageError('not_found', label, 'write', key, 'the object was not found right after it was committed');
      return info;
    },
    async discard() {
      // Destroying the stream stops rclone if it still runs.
      stream.destroy();
      await exited;
      // Bucket backends never show an unfinished multipart upload, so there may be nothing
      // to delete; the bucket's lifecycle rule drops such uploads.
      await runner.deleteObject('write', partialKey);
    },
    explain: (error) => (error instanceof HindsightError ? error : storageError('tool_failed', label, 'write', key, (error as Error).message)),
  });
}
