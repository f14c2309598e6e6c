/**
 * The soak (`npm run soak`, not part of `npm test`): SOAK_DATABASES databases (default 20), each
 * backed up every minute to a local storage and to S3 behind a fault proxy that takes S3 down for
 * 20 s every 2 minutes, with verification after each backup, restores of the newest backups and the
 * console's API read alongside, for SOAK_MINUTES (default 30). It then reports backups done,
 * failed, retried, lost and duplicated, p50/p99 durations, the worker's and the console's memory
 * over time (the slope after a warm-up), open descriptors and the catalog's size; writes them to
 * bench/results/<date>-soak.md and into docs/reliability.md; and exits 1 when a backup was lost or
 * duplicated.
 *
 *   SOAK_MINUTES=10 npm run soak
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { backupScheduleId } from '../temporal/contracts/backup.ts';
import { flap, pollConsole, restoreLoop, sampleLoop, type LoadCounts, type Sample } from './soak/load.ts';
import { figuresMarkdown, soakFigures, writeIntoReliabilityPage } from './soak/report.ts';
import { startSoakWorld, type SoakWorld } from './soak/world.ts';
import { envInt, log } from './settings.ts';
import { runBench } from './support/run.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const minutes = envInt('SOAK_MINUTES', 30);
const databases = envInt('SOAK_DATABASES', 20);
const rowsPerDatabase = envInt('SOAK_ROWS', 20_000);
/** Left out of the memory slopes: a third of the run, at most 10 minutes. */
const warmupMinutes = envInt('SOAK_WARMUP_MINUTES', Math.min(10, Math.ceil(minutes / 3)));
/** SOAK_HEAP_SNAPSHOTS=1: the worker writes a heap snapshot into bench/out/ at the end of the warm-up and of the load. */
const heapSnapshots = process.env.SOAK_HEAP_SNAPSHOTS === '1';

/** Lets the last scheduled runs, their verifications and the restores end before counting. */
const SETTLE_MS = 90_000;

/** Asks the worker for a heap snapshot (Node's --heapsnapshot-signal) at `at`; writing one collects garbage first. */
async function snapshotAt(world: SoakWorld, at: number): Promise<void> {
  await sleep(Math.max(0, at - Date.now()));
  log('asking the worker for a heap snapshot');
  world.worker.child.kill('SIGWINCH');
}

async function soak(world: SoakWorld): Promise<void> {
  const started = Date.now();
  const until = started + minutes * 60_000;
  const samples: Sample[] = [];
  const load: LoadCounts = { flaps: 0, restores: 0, restoresFailed: 0, restoreErrors: [], apiCalls: 0, apiErrors: 0 };
  log(`soaking for ${minutes} min: ${databases} databases every minute, S3 flapping`);
  await Promise.all([
    flap(world, until, load, 120_000, 20_000),
    restoreLoop(world, until, load, 45_000),
    pollConsole(world, until, load, 5_000),
    sampleLoop(world, until, samples, 10_000),
    heapSnapshots ? snapshotAt(world, started + warmupMinutes * 60_000) : undefined,
  ]);
  const loadEnded = Date.now();
  if (heapSnapshots) await snapshotAt(world, loadEnded);
  // Pause the schedules, then let what runs end, so that no run is counted before its backup row exists.
  for (const name of world.sources.keys())
    await world.platform.client.schedule.getHandle(backupScheduleId(name)).pause('the soak ended');
  world.proxy.set({ kind: 'pass' });
  await sampleLoop(world, Date.now() + SETTLE_MS, samples, 10_000);
  const figures = await soakFigures(world, minutes, samples, load, { started, warmupMinutes, loadEnded });
  const markdown = figuresMarkdown(figures, new Date(started));
  process.stdout.write(`\n${markdown}\n`);
  for (const error of load.restoreErrors.slice(0, 5)) log(`restore failed: ${error}`);
  const results = path.join(root, 'bench/results');
  await mkdir(results, { recursive: true });
  await writeFile(
    path.join(results, `${new Date(started).toISOString().slice(0, 10)}-soak.md`),
    `# Soak\n\n${markdown}`,
  );
  await writeIntoReliabilityPage(path.join(root, 'docs/reliability.md'), markdown);
  if (figures.lost > 0 || figures.duplicated > 0)
    throw new Error(`${figures.lost} scheduled backups lost and ${figures.duplicated} duplicated`);
}

runBench(log, async () => {
  const outDir = path.join(root, 'bench/out');
  await mkdir(outDir, { recursive: true });
  let world: SoakWorld | undefined;
  return {
    async work() {
      world = await startSoakWorld({ databases, rowsPerDatabase, outDir, heapSnapshots });
      await soak(world);
    },
    cleanup: async () => world?.stop(),
    onFailure: () => world && log(`worker's last lines:\n${world.worker.tail()}`),
  };
});
