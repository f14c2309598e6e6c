/**
 * The parallel logical backup: `pg_dump -Fd -j N` into a private spool directory of the worker,
 * streamed out as one tar (spool-tar.ts) so that the backup stays one storage object. pg_dump's
 * jobs compress each file themselves (zstd 5 from pg_dump 16, gzip 5 before): compression then
 * runs on N processes already, which is what compressing outside pg_dump bought the single stream.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { dumpCompressionFor } from '../pg/tools.ts';
import { stderrTail, waitForExit } from './child-process.ts';
import type { DumpCompressionPlan } from './compress.ts';
import type { DumpProcess } from './compress-process.ts';
import { processTree } from './spool-files.ts';
import { spoolTar } from './spool-tar.ts';

/** The most jobs a backup may run (the setting's bound, services/databases/input.ts). */
export const MAX_PARALLEL_JOBS = 16;

/** Compression of a directory archive: pg_dump's own, per file, in each job. */
export function directoryCompressionPlan(pgDumpMajor: number): DumpCompressionPlan {
  const inside = dumpCompressionFor(pgDumpMajor);
  return { algorithm: inside.name, level: inside.level, where: 'inside', pgDumpFlag: inside.flag, zstdArgs: undefined };
}

export interface DirectoryDump extends DumpProcess {
  /** Removes the spool, whatever is left in it; call once pg_dump has exited. */
  cleanup(): Promise<void>;
}

/** Signals pg_dump and its jobs: the jobs are its children and would otherwise write on a moment. */
function killTree(pid: number | undefined): void {
  if (pid === undefined) return;
  void processTree(pid).then((pids) => {
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
  jobs: number,
  signal?: AbortSignal,
): Promise<DirectoryDump> {
  const spool = await realpath(await mkdtemp(path.join(os.tmpdir(), 'hindsight-dump-')));
  // pg_dump refuses a directory that exists and is not empty; it creates this one itself (0700).
  const dir = path.join(spool, 'archive');
  const dump = spawn(pgDumpPath, ['--format=directory', `--jobs=${jobs}`, `--file=${dir}`, ...args], {
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
  const stdout = Readable.from(spoolTar({ dir, pid: dump.pid, exited: succeeded, signal }), { objectMode: false });
  return {
    stdout,
    stderr,
    exited,
    compressor: Promise.resolve(undefined),
    kill: () => killTree(dump.pid),
    cleanup: () => rm(spool, { recursive: true, force: true }),
  };
}
