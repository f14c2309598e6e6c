/**
 * Hindsight's backup pipeline against plain pg_dump on the same database, same compression, same
 * warm cache, to three kinds of destination: a local directory, an S3 server (moto, on this host)
 * and both at once; then the same against pg_dump 17 on a PostgreSQL 17 server when .venv has it (local only),
 * and bench/results/<date>.md per pg_dump major. Environment: BENCH_SIZE_MB (default 1100), BENCH_ROUNDS (default 3),
 * BENCH_DESTINATIONS (comma-separated subset of local,s3,local+s3; default all), BENCH_OTHER_MAJORS
 * (comma-separated; default 17 when installed, empty for none). Then the
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
import { measureMajor, otherMajors } from './backup-vs-pg-dump/other-major.ts';
import { writeResultsMarkdown, type MajorResult } from './backup-vs-pg-dump/results-md.ts';
import { summarize } from './backup-vs-pg-dump/summary.ts';
import { envInt, log } from './settings.ts';
import { runBench } from './support/run.ts';

runBench(log, async () => {
  const settings = {
    sizeMb: envInt('BENCH_SIZE_MB', 1100),
    rounds: envInt('BENCH_ROUNDS', 3),
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
    const perMajor: MajorResult[] = [
      {
        major: platform.cluster.major,
        pgDumpVersion: measurements.pgDump.version,
        pgDumpFlag: measurements.pgDump.compression.flag,
        databaseBytes: measurements.dataset.sizeBytes,
        baseline: measurements.baseline,
        hindsight: measurements.hindsight.local ?? [],
      },
    ];
    for (const major of await otherMajors(platform.cluster.major)) {
      const m = await measureMajor(platform, worker!, major, settings.sizeMb, settings.rounds);
      perMajor.push({
        major,
        pgDumpVersion: m.pgDump.version,
        pgDumpFlag: m.pgDump.compression.flag,
        databaseBytes: m.dataset.sizeBytes,
        baseline: m.baseline,
        hindsight: m.hindsight,
      });
    }
    log(`per-major results written to ${await writeResultsMarkdown(perMajor, settings)}`);
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
