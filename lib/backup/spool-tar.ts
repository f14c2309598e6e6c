/**
 * The spool of a `pg_dump -Fd -j N` as one tar stream, written while pg_dump runs: each file goes
 * into the tar as soon as no pg_dump process holds it open (spool-files.ts), and is deleted from
 * the spool once its last byte has been taken downstream. With backpressure from the storages the
 * spool holds what pg_dump's jobs are writing plus what the storages have not taken yet.
 */
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { filesReady, readSpool } from './spool-files.ts';
import { tarHeader, tarPadding, tarTrailer } from './tar-format.ts';

/** How often the spool is looked at while pg_dump's jobs are writing. */
const POLL_MS = 200;

export interface SpoolSource {
  /** The spool directory pg_dump writes (its real path: /proc shows descriptors by real path). */
  dir: string;
  /** pg_dump's process id; undefined when it could not start. */
  pid: number | undefined;
  /** Resolves when pg_dump exits with success, rejects when it fails: the stream then fails too. */
  exited: Promise<void>;
  signal?: AbortSignal | undefined;
}

async function* fileEntry(file: string, name: string): AsyncGenerator<Buffer> {
  const info = await stat(file);
  yield tarHeader(name, info.size, info.mtimeMs / 1000);
  let sent = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) {
    sent += (chunk as Buffer).length;
    yield chunk as Buffer;
  }
  // A finished file does not change; one that did would make the header lie, so it fails the dump.
  if (sent !== info.size) throw new Error(`spool file ${name} changed size while it was sent (${info.size} → ${sent})`);
  yield tarPadding(info.size);
}

/** Resolves after `ms`, or at once when pg_dump exits first. */
async function waitOrExit(ms: number, exited: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  await Promise.race([sleep(ms, undefined, signal ? { signal } : {}), exited.then(() => undefined)]);
}

/**
 * The tar of the spool: finished data files as they come, the rest once pg_dump exited cleanly,
 * toc.dat last, then the trailer. Throws pg_dump's failure (from `exited`) instead of ending.
 */
export async function* spoolTar(source: SpoolSource): AsyncGenerator<Buffer> {
  let finished = false;
  const exited = source.exited.then(() => {
    finished = true;
  });
  // A failed pg_dump rejects `exited`: the loop below sees it at its next wait.
  exited.catch(() => undefined);
  for (;;) {
    source.signal?.throwIfAborted();
    const done = finished;
    const state = await readSpool(source.dir, source.pid, done);
    const ready = filesReady(source.dir, state);
    for (const name of ready) {
      const file = path.join(source.dir, name);
      yield* fileEntry(file, name);
      await unlink(file);
    }
    if (done) break;
    if (ready.length === 0) await waitOrExit(POLL_MS, exited, source.signal);
    // Rethrows pg_dump's failure once it has exited with one.
    await Promise.race([exited, Promise.resolve()]);
  }
  yield tarTrailer();
}
