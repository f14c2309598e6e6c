/**
 * The worker's memory over many backups, inline against the data plane (HINDSIGHT_DATA_PLANE):
 * for each mode, a fresh worker program runs one warm-up backup, then BENCH_BACKUPS (default 20)
 * consecutive backups of one generated database to local storage. It prints, per mode, the
 * worker's RSS growth while a backup runs (peak minus the RSS before it), the slope of the RSS
 * after each backup over the run (least-squares fit, MiB per backup), the one-time cost (idle
 * worker to after the warm-up: the plane's thread starts there) and the median backup time,
 * whose ratio between the modes is the pipeline's speed.
 * Environment: BENCH_SIZE_MB (default 300), BENCH_BACKUPS, BENCH_MODES (default inline,thread).
 *
 *   BENCH_SIZE_MB=100 scripts/node bench/backup-memory.ts
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dataPlaneMode, type DataPlaneMode } from '../lib/dataplane/index.ts';
import { connect, targetUrl } from '../lib/pg/connection.ts';
import { createDatabase, startPlatform, type Platform } from '../test/support/platform.ts';
import {
  rssOf,
  runHindsightBackup,
  startWorkerProcess,
  stopWorkerProcess,
  type WorkerProcess,
} from './backup-vs-pg-dump/contenders.ts';
import { fmtBytes, fmtSeconds, MIB } from './backup-vs-pg-dump/report-format.ts';
import { generateDataset } from './dataset.ts';
import { envInt, log, median } from './settings.ts';
import { runBench } from './support/run.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Least-squares slope of ys over 1..n: how much each backup leaves behind, whatever the noise. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const meanX = (n + 1) / 2;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, i) => {
    num += (i + 1 - meanX) * (y - meanY);
    den += (i + 1 - meanX) ** 2;
  });
  return num / den;
}

interface ModeResult {
  mode: DataPlaneMode;
  idleRssBytes: number;
  afterWarmupRssBytes: number;
  backups: Array<{ seconds: number; rssBeforeBytes: number; rssPeakBytes: number; rssAfterBytes: number }>;
}

function modesFromEnv(): DataPlaneMode[] {
  const raw = process.env.BENCH_MODES || 'inline,thread';
  return raw.split(',').map((m) => dataPlaneMode({ HINDSIGHT_DATA_PLANE: m.trim() }));
}

/** The source: about `sizeMb` MiB of generated data, registered without verification (it would skew the next backup). */
async function prepareSource(platform: Platform, sizeMb: number): Promise<void> {
  const source = await createDatabase(platform.cluster, 'bench_source');
  const clients = await Promise.all([connect('bench', source), connect('bench', source)]);
  const dataset = await generateDataset(clients, sizeMb).finally(() => Promise.all(clients.map((c) => c.end())));
  log(`database size ${fmtBytes(dataset.sizeBytes)}, generated in ${fmtSeconds(dataset.seconds)}`);
  await platform.ops.addDatabase({ name: 'source', url: targetUrl(source), verifyAfterBackup: false });
}

/** A fresh worker in `mode`, warmed up, then `count` backups one after another. */
async function measureMode(
  platform: Platform,
  mode: DataPlaneMode,
  count: number,
  logFile: string,
  setWorker: (w: WorkerProcess | undefined) => void,
): Promise<ModeResult> {
  process.env.HINDSIGHT_DATA_PLANE = mode;
  const worker = startWorkerProcess(platform, logFile);
  setWorker(worker);
  await worker.ready;
  await sleep(2000);
  const pid = worker.child.pid!;
  const idleRssBytes = rssOf(pid);
  // The warm-up pays the one-time costs (modules, the plane's thread) outside the measured backups.
  await runHindsightBackup(platform, worker, 'source');
  await sleep(1000);
  const afterWarmupRssBytes = rssOf(pid);
  log(`${mode}: worker idle ${fmtBytes(idleRssBytes)}, after the warm-up backup ${fmtBytes(afterWarmupRssBytes)}`);
  const backups: ModeResult['backups'] = [];
  for (let i = 1; i <= count; i++) {
    const r = await runHindsightBackup(platform, worker, 'source');
    await sleep(500);
    const rssAfterBytes = rssOf(pid);
    backups.push({ seconds: r.seconds, rssBeforeBytes: r.rssBeforeBytes, rssPeakBytes: r.rssPeakBytes, rssAfterBytes });
    log(
      `${mode} #${i}: ${fmtSeconds(r.seconds)}, RSS ${fmtBytes(r.rssBeforeBytes)} -> peak ${fmtBytes(r.rssPeakBytes)} -> after ${fmtBytes(rssAfterBytes)}`,
    );
  }
  await stopWorkerProcess(worker);
  setWorker(undefined);
  return { mode, idleRssBytes, afterWarmupRssBytes, backups };
}

function summarize(result: ModeResult) {
  const growth = result.backups.map((b) => (b.rssPeakBytes - b.rssBeforeBytes) / MIB);
  const last = result.backups.at(-1)!;
  return {
    mode: result.mode,
    backups: result.backups.length,
    medianSeconds: median(result.backups.map((b) => b.seconds)),
    growthPerRunningBackupMiB: { median: median(growth), max: Math.max(...growth) },
    slopeMiBPerBackup: slope(result.backups.map((b) => b.rssAfterBytes / MIB)),
    oneTimeMiB: (result.afterWarmupRssBytes - result.idleRssBytes) / MIB,
    idleToEndMiB: (last.rssAfterBytes - result.idleRssBytes) / MIB,
  };
}

function report(summaries: Array<ReturnType<typeof summarize>>): void {
  const inline = summaries.find((s) => s.mode === 'inline');
  for (const s of summaries) {
    const ratio = inline && s !== inline ? ` (${(s.medianSeconds / inline.medianSeconds).toFixed(3)}× inline)` : '';
    log(
      `${s.mode}: ${s.backups} backups, median ${fmtSeconds(s.medianSeconds)}${ratio}; RSS growth per running backup ` +
        `median ${s.growthPerRunningBackupMiB.median.toFixed(1)} MiB, max ${s.growthPerRunningBackupMiB.max.toFixed(1)} MiB ` +
        `(target ≤ 16); slope ${s.slopeMiBPerBackup.toFixed(2)} MiB/backup; one-time ${s.oneTimeMiB.toFixed(1)} MiB; ` +
        `idle → after the last ${s.idleToEndMiB.toFixed(1)} MiB`,
    );
  }
}

runBench(log, async () => {
  const settings = { sizeMb: envInt('BENCH_SIZE_MB', 300), count: envInt('BENCH_BACKUPS', 20), modes: modesFromEnv() };
  const outDir = fileURLToPath(new URL('./out/', import.meta.url));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  await mkdir(outDir, { recursive: true });
  let platform: Platform | undefined;
  let worker: WorkerProcess | undefined;
  return {
    async work() {
      log(`${settings.count} backups of about ${settings.sizeMb} MiB per mode: ${settings.modes.join(', ')}`);
      platform = await startPlatform();
      await prepareSource(platform, settings.sizeMb);
      const results: ModeResult[] = [];
      for (const mode of settings.modes) {
        const logFile = `${outDir}memory-${mode}-${stamp}.log`;
        results.push(await measureMode(platform, mode, settings.count, logFile, (w) => (worker = w)));
      }
      const summaries = results.map(summarize);
      report(summaries);
      const file = `${outDir}memory-${stamp}.json`;
      await writeFile(file, `${JSON.stringify({ settings, summaries, results }, null, 2)}\n`);
      log(`results written to ${file}`);
    },
    async cleanup() {
      await stopWorkerProcess(worker).catch(() => undefined);
      await platform?.stop().catch(() => undefined);
    },
    onFailure() {
      if (worker) console.error(`worker log (last lines):\n${worker.tail()}`);
    },
  };
});
