/**
 * The worker program as it runs in production (worker/main.ts, with the environment `npm start`
 * gives it), one child process per contender,
 * its JSON log kept whole in a file and its last lines in memory for an error message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { workerProcessEnv } from '../../lib/supervisor/worker-env.ts';
import type { Platform } from '../../test/support/platform.ts';

/** The fields of a worker's pino line that the benches read. */
export interface WorkerLogRecord {
  msg?: string;
  time?: number;
  backupId?: string;
  /** The soak's heap probe: V8 heap in use after a forced collection. */
  heapUsed?: number;
  /** The soak's heap probe: heap in use of the worker's threads (workflows, data plane). */
  threadsHeapUsed?: number;
  /** The soak's heap probe: the main thread's memory outside its heap after the collection, Buffers included. */
  external?: number;
  /** The soak's heap probe: the part of `external` that is ArrayBuffers (Buffers) after the collection. */
  arrayBuffers?: number;
  /** The soak's heap probe: physical memory committed by every V8 heap (main thread and threads). */
  heapsPhysical?: number;
}

export interface BenchWorker {
  child: ChildProcess;
  /** The environment it was started with, as the production worker would be (lib/supervisor/worker-env.ts). */
  env: NodeJS.ProcessEnv;
  /** Resolves on the worker's "worker ready" line; rejects if it exits before. */
  ready: Promise<void>;
  tail(): string;
}

export interface BenchWorkerOptions {
  /** Named in the exit message when given. */
  label?: string;
  logFile: string;
  /** Node flags before the entry point, so that one may preload a module. */
  nodeFlags?: string[];
  /** Settings beyond the platform's, for this worker only. */
  env?: Record<string, string>;
  /** How many of the last lines `tail` returns. */
  tailLines: number;
  /** Every JSON line of the worker's log, in order. */
  onRecord?: (record: WorkerLogRecord) => void;
}

export function spawnBenchWorker(platform: Platform, options: BenchWorkerOptions): BenchWorker {
  const main = fileURLToPath(new URL('../../worker/main.ts', import.meta.url));
  const env = workerProcessEnv({
    ...process.env,
    ...platform.configEnv,
    HINDSIGHT_LOG_LEVEL: 'info',
    HINDSIGHT_LOG_PRETTY: '0',
    ...options.env,
  });
  const child = spawn(process.execPath, [...(options.nodeFlags ?? []), main], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const fullLog = createWriteStream(options.logFile);
  child.once('close', () => fullLog.end());
  let markReady!: () => void;
  let markFailed!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });
  ready.catch(() => undefined);
  let partial = '';
  const onLine = (line: string) => {
    fullLog.write(`${line}\n`);
    lines.push(line);
    if (lines.length > options.tailLines) lines.shift();
    let record: WorkerLogRecord;
    try {
      record = JSON.parse(line) as WorkerLogRecord;
    } catch {
      return;
    }
    if (record.msg === 'worker ready') markReady();
    options.onRecord?.(record);
  };
  const onData = (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    parts.filter(Boolean).forEach(onLine);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const name = options.label ? `worker ${options.label}` : 'worker';
  child.once('exit', (code, signal) => {
    markFailed(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${lines.join('\n')}`));
  });
  return { child, env, ready, tail: () => lines.join('\n') };
}

/** SIGTERM (the worker drains), then SIGKILL after `killAfterMs`. */
export async function stopBenchWorker(worker: { child: ChildProcess } | undefined, killAfterMs: number): Promise<void> {
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.child.once('exit', resolve));
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), killAfterMs);
  await exited;
  clearTimeout(timer);
}
