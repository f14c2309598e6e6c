/**
 * The parallel logical backup: `pg_dump -Fd -j N` into a private spool directory of the worker,
 * streamed out as one tar (spool-tar.ts) so that the backup stays one storage object. From pg_dump
 * 16 its jobs compress each file themselves with zstd 5 (inside). Before 16 pg_dump would gzip:
 * the jobs then write uncompressed files (`-Z0`) and the tar goes through one `zstd` process
 * (outside), as the single stream does (compress.ts); docs/performance.md has the measurements.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stderrTail, waitForExit } from './child-process.ts';
import type { DumpCompressionPlan } from './compress.ts';
import { compressorOutcome, type DumpProcess } from './compress-process.ts';
import { processTree } from './spool-files.ts';
import { spoolTar } from './spool-tar.ts';

/** The tar through a zstd process when the plan says outside; zstd's failure is reported as the compressor's. */
function compressedTar(
  tar: Readable,
  plan: DumpCompressionPlan,
): Pick<DumpProcess, 'stdout' | 'compressor'> & {
  stop(): void;
} {
  if (!plan.zstdArgs) return { stdout: tar, compressor: Promise.resolve(undefined), stop: () => tar.destroy() };
  const zstd = spawn('zstd', plan.zstdArgs, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const compressor = compressorOutcome(zstd, stderrTail(zstd));
  // A failed tar (pg_dump failed) must not end zstd's input cleanly: zstd is killed, the stream fails.
  pipeline(tar, zstd.stdin!).catch((error: unknown) => {
    zstd.kill();
    zstd.stdout!.destroy(error as Error);
  });
  return {
    stdout: zstd.stdout!,
    compressor,
    stop: () => {
      tar.destroy();
      zstd.kill();
    },
  };
}

export interface DirectoryDump extends DumpProcess {
  /** Removes the spool, whatever is left in it; call once pg_dump has exited. */
  cleanup(): Promise<void>;
}

/**
 * Signals pg_dump and its jobs: the jobs are its children and would otherwise write on a moment.
 * Only while pg_dump has not been reaped: its pid, and so its children's, are still its own.
 */
function killTree(dump: ChildProcess): void {
  const running = () => dump.pid !== undefined && dump.exitCode === null && dump.signalCode === null;
  if (!running()) return;
  void processTree(dump.pid!).then((pids) => {
    if (!running()) return;
    for (const p of pids.reverse()) {
      try {
        process.kill(p, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
  });
}

/**
 * Starts `pg_dump --format=directory --jobs=<jobs>` with `args` (snapshot, compression, …) into a
 * fresh spool (mode 0700, under the worker's temporary directory) and returns the tar of it.
 */
export async function spawnDirectoryDump(
  pgDumpPath: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  plan: DumpCompressionPlan,
  jobs: number,
  signal?: AbortSignal,
): Promise<DirectoryDump> {
  const spool = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hindsight-dump-')));
  // pg_dump refuses a directory that exists and is not empty; it creates this one itself (0700).
  const dir = path.join(spool, 'archive');
  // --no-sync: the spool is read and deleted at once; durability is the storages' commit, not an fsync here.
  const dump = spawn(pgDumpPath, ['--format=directory', `--jobs=${jobs}`, '--no-sync', `--file=${dir}`, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr = stderrTail(dump);
  const exited = waitForExit(dump);
  const succeeded = exited.then(({ code, signal: sig }) => {
    if (code !== 0) throw new Error(`pg_dump exited with ${sig ? `signal ${sig}` : `code ${code}`}`);
  });
  // The tar stream reports the failure; this copy must not count as unhandled when nobody reads it.
  succeeded.catch(() => undefined);
  const tar = Readable.from(spoolTar({ dir, pid: dump.pid, exited: succeeded, signal }), { objectMode: false });
  const { stdout, compressor, stop } = compressedTar(tar, plan);
  // pg_dump writes files, not into zstd: a dead compressor would not stop it, so it is stopped here.
  void compressor.then((failure) => failure && killTree(dump));
  return {
    stdout,
    stderr,
    exited,
    compressor,
    kill: () => {
      killTree(dump);
      stop();
    },
    cleanup: () => rm(spool, { recursive: true, force: true }),
  };
}
