import { Readable } from 'node:stream';
import { storageError, type ReadRange } from '../contract.ts';
import { clampRange, STREAM_CHUNK_BYTES } from '../shared/streams.ts';
import type { RcloneRunner } from './process.ts';

/** `rclone cat` of `[range.start, range.end)`; a short read fails rather than pass as whole. */
export async function openRcloneRead(
  runner: RcloneRunner,
  key: string,
  range: ReadRange | undefined,
): Promise<Readable> {
  // Ask first: `rclone cat` of a missing object exits 0 with no output on bucket backends.
  const info = await runner.statObject('read', key);
  if (!info) throw storageError('not_found', runner.label, 'read', key, 'object not found');
  const { start: from, end: to } = clampRange(range, info.size);
  if (from >= to) return Readable.from([]);
  const args = ['cat', runner.at(key)];
  if (from > 0) args.push('--offset', String(from));
  if (to < info.size) args.push('--count', String(to - from));
  const { child, exited } = await runner.start('read', key, args, { stdin: 'ignore', stdout: 'pipe' });
  const stdout = child.stdout!;
  const expected = to - from;
  let received = 0;
  let ended = false;
  const out = new Readable({
    highWaterMark: STREAM_CHUNK_BYTES,
    read() {
      stdout.resume();
    },
    destroy(error, callback) {
      if (!ended) child.kill('SIGTERM');
      callback(error);
    },
  });
  stdout.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (!out.push(chunk)) stdout.pause();
  });
  void exited.then((exit) => {
    ended = true;
    if (out.destroyed) return;
    if (exit.code !== 0) out.destroy(runner.fail('read', key, exit));
    // A short read means the object changed or the transfer broke; never pass it as whole.
    else if (received !== expected)
      out.destroy(
        storageError('tool_failed', runner.label, 'read', key, `rclone returned ${received} of ${expected} bytes`),
      );
    else out.push(null);
  });
  return out;
}
