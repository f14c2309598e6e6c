/**
 * pg_dump, and for a dump compressed outside it, `zstd` reading pg_dump's standard output directly:
 * the uncompressed archive goes from one process to the other through an OS pipe and never passes
 * through Node, which sees only the compressed bytes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { HindsightError } from '../errors.ts';
import { stderrTail, waitForExit } from './child-process.ts';
import type { DumpCompressionPlan } from './compress.ts';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DumpProcess {
  /** What goes to storage: pg_dump's archive, compressed by zstd when the plan says outside. */
  stdout: Readable;
  /** The last lines pg_dump wrote on stderr. */
  stderr(): string;
  /** pg_dump's exit. */
  exited: Promise<ProcessExit>;
  /** Resolves with zstd's failure (undefined when it succeeded or did not run); never rejects. */
  compressor: Promise<HindsightError | undefined>;
  kill(): void;
  /** Removes what the dump left on disk (a directory dump's spool); called once pg_dump has exited. */
  cleanup?(): Promise<void>;
}

/** The compressor's failure, or undefined once it exited cleanly. */
export async function compressorOutcome(zstd: ChildProcess, stderr: () => string): Promise<HindsightError | undefined> {
  try {
    const { code, signal } = await waitForExit(zstd);
    if (code === 0) return undefined;
    return new HindsightError(
      'tool_failed',
      `zstd failed while compressing the dump: ${stderr() || (signal ? `signal ${signal}` : `exit code ${code}`)}`,
    );
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return new HindsightError(
      missing ? 'not_found' : 'tool_failed',
      missing
        ? 'zstd not found: install the zstd package (it compresses logical backups and the PITR archive)'
        : `zstd could not start: ${(error as Error).message}`,
    );
  }
}

/** Starts pg_dump (with `args`, its compression option included) and, for outside compression, zstd after it. */
export function spawnDumpProcess(
  pgDumpPath: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  plan: DumpCompressionPlan,
): DumpProcess {
  const dump = spawn(pgDumpPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = stderrTail(dump);
  // waitForExit listens for 'error' too: a pg_dump that cannot start rejects `exited`.
  const exited = waitForExit(dump);
  if (!plan.zstdArgs) {
    return { stdout: dump.stdout!, stderr, exited, compressor: Promise.resolve(undefined), kill: () => dump.kill() };
  }
  // zstd gets the read end of pg_dump's pipe; ours is closed at once, so that pg_dump sees a
  // broken pipe (and stops) if zstd dies, instead of blocking on a reader that never reads.
  const zstd = spawn('zstd', plan.zstdArgs, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: [dump.stdout!, 'pipe', 'pipe'],
  });
  dump.stdout!.destroy();
  const compressor = compressorOutcome(zstd, stderrTail(zstd));
  return {
    stdout: zstd.stdout!,
    stderr,
    exited,
    compressor,
    kill: () => {
      dump.kill();
      zstd.kill();
    },
  };
}
