/** The scale bench's worker processes: each notes when its dump activities began, from its own log. */
import type { Platform } from '../../test/support/platform.ts';
import { spawnBenchWorker, stopBenchWorker, type BenchWorker } from '../support/worker-process.ts';
import { sleep } from './settings.ts';

export interface WorkerProcess extends BenchWorker {
  label: string;
  pid: number;
  /** When the dump activity began, per backup id, from the worker's own log (pino epoch ms). */
  dumpStarts: Map<string, number>;
}

function startWorkerProcess(platform: Platform, label: string, logFile: string): WorkerProcess {
  const dumpStarts = new Map<string, number>();
  const worker = spawnBenchWorker(platform, {
    label,
    logFile,
    tailLines: 40,
    onRecord: (record) => {
      if (record.msg !== 'backup started' || !record.backupId || !record.time) return;
      if (!dumpStarts.has(record.backupId)) dumpStarts.set(record.backupId, record.time);
    },
  });
  if (worker.child.pid === undefined) throw new Error(`worker ${label} did not start`);
  return { ...worker, label, pid: worker.child.pid, dumpStarts };
}

export const stopWorkerProcess = (worker: WorkerProcess): Promise<void> => stopBenchWorker(worker, 15_000);

export async function startWorkers(
  platform: Platform,
  count: number,
  tag: string,
  outPrefix: string,
  live: Set<WorkerProcess>,
): Promise<WorkerProcess[]> {
  const workers = Array.from({ length: count }, (_, i) => {
    const label = `${tag}.${i + 1}`;
    return startWorkerProcess(platform, label, `${outPrefix}-worker-${label}.log`);
  });
  workers.forEach((w) => live.add(w));
  await Promise.race([
    Promise.all(workers.map((w) => w.ready)),
    sleep(180_000).then(() => {
      throw new Error(`workers ${tag} not ready after 180 s`);
    }),
  ]);
  return workers;
}

export async function stopWorkers(workers: WorkerProcess[], live: Set<WorkerProcess>): Promise<void> {
  await Promise.all(workers.map((w) => stopWorkerProcess(w)));
  workers.forEach((w) => live.delete(w));
}
