/**
 * Hindsight's backup pipeline against plain pg_dump on the same database, same compression, same
 * warm cache, to three kinds of destination: a local directory, an S3 server (moto, on this host)
 * and both at once. Environment: BENCH_SIZE_MB (default 1100), BENCH_ROUNDS (default 2),
 * BENCH_DESTINATIONS (comma-separated subset of local,s3,local+s3; default all). Then the
 * `hindsight` command's own wall time (bench/cli-timing.ts).
 *
 *   npm run bench
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startPlatform, type Platform } from '../test/support/platform.ts';
import { startMoto, type MotoServer } from '../test/support/servers/moto.ts';
import { stopWorkerProcess, type WorkerProcess } from './backup-vs-pg-dump/contenders.ts';
import { addS3Storage, destinationsFromEnv, measure } from './backup-vs-pg-dump/measure.ts';
import { measureCliTimings } from './cli-timing/measure.ts';
import { summarize } from './backup-vs-pg-dump/summary.ts';
import { envInt, log } from './settings.ts';
import { runBench } from './support/run.ts';

runBench(log, async () => {
  const settings = {
    sizeMb: envInt('BENCH_SIZE_MB', 1100),
    rounds: envInt('BENCH_ROUNDS', 2),
    destinations: destinationsFromEnv(),
    workerNodeOptions: process.env.BENCH_WORKER_NODE_OPTIONS || null,
  };
  if (settings.workerNodeOptions) log(`worker runs with extra Node options: ${settings.workerNodeOptions}`);
  const outDir = fileURLToPath(new URL('./out/', import.meta.url));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  await mkdir(outDir, { recursive: true });

  let platform: Platform | undefined;
  let moto: MotoServer | undefined;
  let worker: WorkerProcess | undefined;
  const work = async () => {
    log('starting the platform (PostgreSQL, Temporal dev server, catalog)');
    platform = await startPlatform();
    if (settings.destinations.some((d) => d.includes('s3'))) {
      moto = await startMoto();
      await addS3Storage(platform, moto);
      log(`S3 storage on moto at ${moto.endpoint}`);
    }
    const measurements = await measure(
      platform,
      settings.destinations,
      settings.rounds,
      settings.sizeMb,
      `${outDir}worker-${stamp}.log`,
      (w) => {
        worker = w;
      },
    );
    const results = summarize(measurements, settings);
    // The command's own start, on the same platform: what an operator waits for at a terminal.
    const cli = await measureCliTimings(platform);
    const file = `${outDir}results-${stamp}.json`;
    await writeFile(file, `${JSON.stringify({ ...results, cli }, null, 2)}\n`);
    log(`results written to ${file}`);
  };
  return {
    work,
    async cleanup() {
      await stopWorkerProcess(worker).catch(() => undefined);
      await platform?.stop().catch(() => undefined);
      await moto?.stop().catch(() => undefined);
    },
    onFailure() {
      if (worker) console.error(`worker log (last lines):\n${worker.tail()}`);
    },
  };
});
