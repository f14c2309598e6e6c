/**
 * The worker as its own process with its clock shifted by libfaketime (LD_PRELOAD), as on a host
 * whose clock is off: every other process of the test (PostgreSQL, Temporal, the services the
 * console and the API run) keeps the real time. The worker's children (pg_dump, pg_basebackup,
 * the restored servers) inherit the shift, as they would on that host.
 */
import { globSync } from 'node:fs';
import type { Platform } from './platform.ts';
import { startWorkerProcess, type WorkerProcess } from './worker-process.ts';

/** Debian's libfaketime (scripts/setup.sh installs it), or undefined when it is not installed. */
export function libfaketimePath(): string | undefined {
  return globSync('/usr/lib/*/faketime/libfaketime.so.1')[0];
}

export interface SkewedWorker extends WorkerProcess {
  /** How far ahead of this process the worker's clock was when it said it was ready, in ms. */
  aheadMs: number;
}

/** Starts the platform's worker with its clock `offsetSeconds` ahead (negative: behind). */
export async function startSkewedWorker(
  platform: Platform,
  library: string,
  offsetSeconds: number,
): Promise<SkewedWorker> {
  const worker = await startWorkerProcess({
    ...platform.configEnv,
    HINDSIGHT_LOG_LEVEL: 'info',
    LD_PRELOAD: library,
    FAKETIME: `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds}s`,
  });
  // pino dates each line with the worker's own Date.now().
  const ready = worker.entry('worker ready');
  const aheadMs = Number(ready?.time) - Date.now();
  return Object.assign(worker, { aheadMs });
}
