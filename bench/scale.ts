/**
 * How scheduled backups hold up when one platform carries many databases. N databases, each
 * registered through the product's own addDatabase with a daily cron at a staggered minute so that
 * the N runs spread evenly over a window, are backed up by the real worker program: one process,
 * then two on the same task queue, each phase with fresh schedule slots. Past SCALE_SOURCES the N
 * registered names point round-robin at that many real PostgreSQL databases (10,000 copies would
 * take 74 GB and an hour to create): each name is still its own catalog row, schedule, health state
 * and backups; only the small source being dumped is shared.
 *
 * Per backup it measures the lag from the scheduled time (the `scheduled-<time>` suffix Temporal
 * gives the workflow id) to the workflow's start (Temporal's scheduler), to its first activity (the
 * catalog row, i.e. a worker has picked it up) and to the dump; per phase the throughput, the RSS
 * of every worker and of the Temporal dev server, the catalog's size and where the CPU went.
 *
 *   scripts/node bench/scale.ts
 *   SCALE_DATABASES=100 SCALE_WINDOW_MINUTES=3 scripts/node bench/scale.ts     # quick run
 *   SCALE_DATABASES=10000 SCALE_WINDOW_MINUTES=60 SCALE_PHASE_MINUTES=10 SCALE_WORKERS=1 \
 *     SCALE_VERIFY_SAMPLE=0 nice -n 10 scripts/node bench/scale.ts            # 10,000 hourly, ~40 min
 *
 * Environment (defaults in brackets): SCALE_DATABASES [1000]; SCALE_WINDOW_MINUTES [10], the
 * minutes the N first runs are spread over (60 is the real rate of an hourly schedule); SCALE_WORKERS
 * ["1,2"], worker processes per phase; SCALE_ROWS [300] rows per database; SCALE_TIMEZONE [UTC],
 * the schedules' timezone; SCALE_HEALTH_INTERVAL_SECONDS [3600]; SCALE_VERIFY_SAMPLE [3],
 * restore verifications run at the end to size them (0 skips); SCALE_DRAIN_MINUTES [10], how long
 * after the window stragglers may take; SCALE_PHASE_MINUTES [the window], how many minutes of the
 * window each phase runs: with SCALE_WINDOW_MINUTES=60 SCALE_PHASE_MINUTES=10, the first ten minutes
 * of an hour at the real rate of 1,000 databases an hour (the rest stay parked);
 * SCALE_HEALTH_STEADY_MINUTES [0], minutes of steady health probing measured after the first probes
 * (use with a short SCALE_HEALTH_INTERVAL_SECONDS such as the product's default, 60); SCALE_SOURCES
 * [500], real databases behind the N names; SCALE_REGISTER_CONCURRENCY [16], addDatabase calls in
 * flight. Writes
 * bench/out/scale-<stamp>.json, every backup's timings and the workers' logs beside it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startPlatform, type Platform } from '../test/support/platform.ts';
import { findTemporalPid, postmasterPid, rssOf, type CpuGroups } from './support/proc.ts';
import { catalogStats, createDatabases, registerDatabases, timeDatabaseList } from './scale/catalog.ts';
import { measureFirstProbes, measureSteadyHealth } from './scale/health.ts';
import { runPhase, type PhaseContext } from './scale/phase.ts';
import { log, readSettings, type Settings } from './scale/settings.ts';
import { fmtMib, fmtS, printTable, summarizePhase, type PhaseSummary } from './scale/summary.ts';
import { writeScaleReport } from './scale/report.ts';
import { verifySample } from './scale/verify.ts';
import { startWorkers, stopWorkerProcess, stopWorkers, type WorkerProcess } from './scale/workers.ts';
import { runBench } from './support/run.ts';

/** N databases from a template, registered as an operator would: what that costs in time, memory and catalog. */
async function setUpDatabases(platform: Platform, settings: Settings, temporalPid: number | null) {
  const temporalRssAtStart = temporalPid ? rssOf(temporalPid) : null;
  const catalogEmpty = await catalogStats(platform);

  log(`creating ${settings.sources} source databases of ${settings.rows} rows from a template`);
  const created = await createDatabases(platform, settings.sources, settings.rows);
  log(
    `  ${created.seconds.toFixed(1)} s (${((created.seconds * 1000) / settings.sources).toFixed(0)} ms each, template ${fmtMib(created.templateBytes)} on disk)`,
  );
  if (settings.sources < settings.databases)
    log(
      `  NOTE: ${settings.databases} databases are registered against ${settings.sources} real ones (${(settings.databases / settings.sources).toFixed(0)} names each, SCALE_SOURCES): ` +
        'every name has its own catalog row, schedule, health state and backups; the dumps read shared sources',
    );

  log(
    `registering ${settings.databases} databases (addDatabase: connection test, catalog row, schedule, health monitor)`,
  );
  const registered = await registerDatabases(platform, settings);
  const temporalRssRegistered = temporalPid ? rssOf(temporalPid) : null;
  const catalogRegistered = await catalogStats(platform);
  log(
    `  ${registered.seconds.toFixed(1)} s (${registered.perDatabaseMs.toFixed(1)} ms each at ${registered.concurrency} in flight); Temporal RSS ${fmtMib(temporalRssAtStart)} → ${fmtMib(temporalRssRegistered)}`,
  );
  const databaseList = await timeDatabaseList(platform);
  log(
    `  the databases list (GET /api/v1/databases): ${databaseList.rows} rows in ${databaseList.medianMs} ms, ${fmtMib(databaseList.jsonBytes)} of JSON`,
  );
  return {
    createDatabases: created,
    register: registered,
    databaseList,
    temporalRss: {
      atStartBytes: temporalRssAtStart,
      afterRegisterBytes: temporalRssRegistered,
      atEndBytes: null as number | null,
    },
    catalog: {
      emptyBytes: catalogEmpty.sizeBytes,
      registeredBytes: catalogRegistered.sizeBytes,
      registeredTables: catalogRegistered.tables,
    },
  };
}

/** The first probes of every health monitor, then (when asked) their steady rate, on the first phase's workers. */
async function measureHealth(ctx: PhaseContext, firstWorkers: WorkerProcess[]) {
  const { platform, settings } = ctx;
  const healthGroups: CpuGroups = {
    workers: firstWorkers.map((w) => w.pid),
    temporal: ctx.temporalPid,
    postmaster: postmasterPid(platform),
  };
  const health = await measureFirstProbes(platform, settings, firstWorkers, healthGroups);
  let healthSteady: Awaited<ReturnType<typeof measureSteadyHealth>> | null = null;
  if (settings.healthSteadyMinutes > 0) {
    log(
      `measuring ${settings.healthSteadyMinutes} min of steady health probing, every ${settings.healthIntervalSeconds} s per database`,
    );
    healthSteady = await measureSteadyHealth(platform, settings, healthGroups);
    log(
      `  ${healthSteady.probesPerSecond} probes/s, ${healthSteady.eventsPerProbe} history events per probe; CPU ms per probe: worker ${healthSteady.cpuMsPerProbe.workers}, ` +
        `Temporal ${healthSteady.cpuMsPerProbe.temporal}, PostgreSQL ${healthSteady.cpuMsPerProbe.postgres}; machine busy ${healthSteady.cpu.machineBusyPercent}%`,
    );
  }
  return { health, healthSteady };
}

/** Every phase in turn, the first on the workers already started; each phase's backups go to a file. */
async function runPhases(ctx: PhaseContext, firstWorkers: WorkerProcess[]): Promise<PhaseSummary[]> {
  const phases: PhaseSummary[] = [];
  for (const [i, count] of ctx.settings.workers.entries()) {
    const raw = await runPhase(ctx, count, i + 1, i === 0 ? firstWorkers : undefined);
    await stopWorkers(raw.workers, ctx.live);
    const summary = summarizePhase(ctx.settings, count, raw);
    phases.push(summary);
    await writeFile(`${ctx.outPrefix}-phase${i + 1}-backups.json`, `${JSON.stringify(raw.samples)}\n`);
    log(
      `phase ${i + 1}: ${summary.completed}/${summary.expected} completed; lag to first activity p50 ${fmtS(summary.lagSeconds.firstActivity.p50)} s, ` +
        `p99 ${fmtS(summary.lagSeconds.firstActivity.p99)} s, max ${fmtS(summary.lagSeconds.firstActivity.max)} s`,
    );
  }
  return phases;
}

async function run(
  settings: Settings,
  outPrefix: string,
  live: Set<WorkerProcess>,
  started: (platform: Platform) => void,
): Promise<void> {
  const runStarted = Date.now();
  log(`settings: ${JSON.stringify(settings)}`);
  log('starting the platform (PostgreSQL, Temporal dev server, catalog)');
  // The catalog shares its server with the sources: the sweep's 100 probe connections (4 batches
  // of 25) alone fill the default 100 slots, and the harness could no longer read the catalog.
  const platform = await startPlatform({ pgSettings: { max_connections: '400' } });
  started(platform);
  const temporalPid = findTemporalPid(platform.config.temporalAddress.split(':').pop()!);
  const setup = await setUpDatabases(platform, settings, temporalPid);

  const ctx: PhaseContext = {
    platform,
    settings,
    temporalPid,
    outPrefix,
    live,
    perUpdateMs: setup.register.perDatabaseMs,
  };
  const firstWorkers = await startWorkers(platform, settings.workers[0]!, 'p1', outPrefix, live);
  const { health, healthSteady } = await measureHealth(ctx, firstWorkers);
  const phases = await runPhases(ctx, firstWorkers);

  log(`verification sample: ${settings.verifySample}`);
  const verification = await verifySample(platform, settings.verifySample, outPrefix, live, temporalPid);
  const catalogEnd = await catalogStats(platform);
  setup.temporalRss.atEndBytes = temporalPid ? rssOf(temporalPid) : null;

  printTable(phases);
  const results = {
    at: new Date().toISOString(),
    wallMinutes: Math.round((Date.now() - runStarted) / 600) / 100,
    machine: {
      cpus: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? null,
      memoryBytes: os.totalmem(),
      node: process.version,
      postgresMajor: platform.cluster.major,
      loadAverageAtEnd: os.loadavg().map((v) => Math.round(v * 10) / 10),
    },
    settings,
    setup,
    health,
    healthSteady,
    phases,
    verification,
    catalogEnd,
  };
  const file = `${outPrefix}.json`;
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`results written to ${file} (run took ${results.wallMinutes} min); report ${await writeScaleReport(results)}`);
}

runBench(log, async () => {
  const settings = readSettings();
  const outDir = fileURLToPath(new URL('./out/', import.meta.url));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outPrefix = `${outDir}scale-${stamp}`;
  await mkdir(outDir, { recursive: true });

  let platform: Platform | undefined;
  const live = new Set<WorkerProcess>();
  return {
    work: () =>
      run(settings, outPrefix, live, (started) => {
        platform = started;
      }),
    async cleanup() {
      await Promise.all([...live].map((w) => stopWorkerProcess(w).catch(() => undefined)));
      await platform?.stop().catch(() => undefined);
    },
    onFailure() {
      for (const w of live) console.error(`worker ${w.label} log (last lines):\n${w.tail()}`);
    },
  };
});
