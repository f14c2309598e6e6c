/** Restore verifications of the scale bench's databases, one at a time. */
import type { Platform } from '../../test/support/platform.ts';
import { cpuBetween, cpuSnapshot, postmasterPid, type CpuReport } from '../support/proc.ts';
import { catalogStats, dbName, tableDelta } from './catalog.ts';
import { log, sleep } from './settings.ts';
import { stats } from './stats.ts';
import { startWorkers, stopWorkers, type WorkerProcess } from './workers.ts';

/** A few restore verifications, one at a time: what one costs, and what its catalog row weighs. */
export async function verifySample(
  platform: Platform,
  count: number,
  outPrefix: string,
  live: Set<WorkerProcess>,
  temporalPid: number | null,
) {
  if (count === 0) return null;
  const before = await catalogStats(platform);
  const [worker] = await startWorkers(platform, 1, 'verify', outPrefix, live);
  const runs: Array<{ database: string; status: string; seconds: number; reason: string | null }> = [];
  await sleep(2000);
  const cpuStart = cpuSnapshot();
  let cpu: CpuReport | null;
  try {
    for (let i = 0; i < count; i++) {
      const database = dbName(i);
      const started = performance.now();
      try {
        const request = await platform.ops.requestVerification(database);
        const summary = await request.finished(10 * 60_000);
        runs.push({
          database,
          status: summary.status,
          seconds: (performance.now() - started) / 1000,
          reason: summary.reason ?? null,
        });
      } catch (error) {
        runs.push({
          database,
          status: 'error',
          seconds: (performance.now() - started) / 1000,
          reason: error instanceof Error ? error.message : String(error),
        });
      }
      log(
        `  verification of ${database}: ${runs.at(-1)!.status} in ${runs.at(-1)!.seconds.toFixed(1)} s${runs.at(-1)!.reason ? ` (${runs.at(-1)!.reason})` : ''}`,
      );
    }
    // The throwaway servers are daemons (pg_ctl), not the worker's children: they count under "other".
    cpu = cpuBetween(cpuStart, cpuSnapshot(), {
      workers: [worker!.pid],
      temporal: temporalPid,
      postmaster: postmasterPid(platform),
    });
  } finally {
    await stopWorkers([worker!], live);
  }
  const after = await catalogStats(platform);
  const rows = tableDelta(before, after, ['verifications']);
  const machineCpuSeconds = cpu
    ? cpu.seconds.workers + cpu.seconds.temporal + cpu.seconds.postgres + cpu.seconds.other
    : null;
  return {
    runs,
    secondsEach: stats(runs.map((r) => r.seconds)),
    cpu,
    machineCpuSecondsEach: machineCpuSeconds === null ? null : Math.round((machineCpuSeconds / count) * 100) / 100,
    rows: rows.rows,
    bytes: rows.bytes,
    avgRowBytes: after.avgVerificationRowBytes,
    avgReportBytes: after.avgVerificationReportBytes,
  };
}
