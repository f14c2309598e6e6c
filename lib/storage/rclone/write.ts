import { HindsightError } from '../../errors.ts';
import { storageError, type AtomicWrite } from '../contract.ts';
import { partialWrite } from '../shared/atomic-write.ts';
import { partialKeyOf } from '../shared/partial-files.ts';
import { SinkWritable } from '../shared/sink-writable.ts';
import { STREAM_CHUNK_BYTES } from '../shared/streams.ts';
import type { RcloneRunner } from './process.ts';

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
  const { child, exited } = await runner.start(
    'write',
    key,
    ['rcat', runner.at(partialKey)],
    { stdin: 'pipe', stdout: 'ignore' },
    '10m',
  );
  const stdin = child.stdin!;
  // EPIPE when rclone exits early; its exit status and stderr say why.
  stdin.on('error', () => undefined);
  // Backpressure is the pipe to rclone; the stream holds only its own highWaterMark on top.
  const stream = new SinkWritable({
    sink: stdin,
    done: exited.then((ended) => {
      if (ended.code !== 0) throw runner.fail('write', key, ended);
    }),
    endedEarly: () =>
      storageError('tool_failed', label, 'write', key, 'rclone stopped reading before the upload ended'),
    onDestroy: (ended) => {
      if (!ended) child.kill('SIGTERM');
    },
    highWaterMark: STREAM_CHUNK_BYTES,
  });
  return partialWrite({
    label,
    key,
    stream,
    async publish() {
      // --ignore-times: without it rclone skips a "same size and time" destination and
      // only deletes the source, keeping the old bytes under the key.
      await runner.runChecked('write', key, ['moveto', '--ignore-times', runner.at(partialKey), runner.at(key)]);
      const info = await runner.statObject('write', key);
      if (!info)
        throw storageError('not_found', label, 'write', key, 'the object was not found right after it was committed');
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
    explain: (error) =>
      error instanceof HindsightError
        ? error
        : storageError('tool_failed', label, 'write', key, (error as Error).message),
  });
}
