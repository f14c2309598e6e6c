/** The source database, the destinations, the warm-ups, then both contenders in alternating rounds. */
import { execFileSync } from 'node:child_process';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { dumpCompressionFor, toolFor } from '../../lib/pg/tools.ts';
import { createDatabase, type Platform } from '../../test/support/platform.ts';
import type { MotoServer } from '../../test/support/servers/moto.ts';
import { generateDataset, type DatasetReport } from '../dataset.ts';
import { log } from '../settings.ts';
import {
  procStats,
  runHindsightBackup,
  runPgDump,
  startWorkerProcess,
  type DumpRun,
  type HindsightRun,
  type WorkerProcess,
} from './contenders.ts';
import { fmtBytes, fmtOptional, fmtSched, fmtSeconds } from './report-format.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Where a contender's backups go: one registered database per destination set, all on the same source. */
export const DESTINATIONS = {
  local: { database: 'source', storages: ['local'] },
  s3: { database: 'source_s3', storages: ['s3'] },
  'local+s3': { database: 'source_both', storages: ['local', 's3'] },
} as const;
export type DestinationName = keyof typeof DESTINATIONS;

export function destinationsFromEnv(): DestinationName[] {
  const raw = process.env.BENCH_DESTINATIONS;
  if (!raw) return Object.keys(DESTINATIONS) as DestinationName[];
  const names = raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  for (const name of names)
    if (!(name in DESTINATIONS))
      throw new Error(
        `BENCH_DESTINATIONS: unknown destination "${name}" (use ${Object.keys(DESTINATIONS).join(', ')})`,
      );
  return names as DestinationName[];
}

/** An S3 storage on a moto server on this host: real S3 protocol, multipart and all. */
export async function addS3Storage(platform: Platform, moto: MotoServer): Promise<void> {
  const client = new S3Client({
    endpoint: moto.endpoint,
    region: moto.region,
    forcePathStyle: true,
    credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
  client.destroy();
  await platform.ops.saveStorage('s3', {
    type: 's3',
    bucket: 'bench',
    endpoint: moto.endpoint,
    region: moto.region,
    forcePathStyle: true,
    accessKeyId: moto.accessKeyId,
    secretAccessKey: moto.secretAccessKey,
    prefix: 'hindsight/',
  });
}

export interface Measurements {
  dataset: DatasetReport;
  pgDump: { version: string; path: string; compression: ReturnType<typeof dumpCompressionFor> };
  baseline: DumpRun[];
  hindsight: Partial<Record<DestinationName, HindsightRun[]>>;
  warmups: { pgDump: DumpRun; hindsight: HindsightRun; idleRssBytes: number; idleCpuPerSecond: number };
}

type Source = Awaited<ReturnType<typeof createDatabase>>;
type DumpTool = Awaited<ReturnType<typeof toolFor>>;

/** The source database, filled with about `sizeMb` MiB of generated data. */
async function generateSource(platform: Platform, sizeMb: number): Promise<{ source: Source; dataset: DatasetReport }> {
  const source = await createDatabase(platform.cluster, 'bench_source');
  log(`generating about ${sizeMb} MiB of data`);
  const clients = await Promise.all([connect('bench', source), connect('bench', source)]);
  const dataset = await generateDataset(clients, sizeMb).finally(() => Promise.all(clients.map((c) => c.end())));
  log(
    `database size ${fmtBytes(dataset.sizeBytes)} (pg_database_size ${dataset.sizeBytes}), generated in ${fmtSeconds(dataset.seconds)}`,
  );
  for (const t of dataset.tables)
    log(`  ${t.name.padEnd(12)} ${String(t.rows).padStart(10)} rows  ${fmtBytes(t.bytes)}`);
  return { source, dataset };
}

/** The pg_dump matching the cluster's major version, as the worker itself would pick it. */
async function pgDumpTool(platform: Platform): Promise<{ tool: DumpTool } & Measurements['pgDump']> {
  const tool = await toolFor('pg_dump', platform.cluster.major);
  const compression = dumpCompressionFor(tool.major);
  const version = execFileSync(tool.path, ['--version'], { encoding: 'utf8' }).trim();
  log(`${version} (${tool.path}), ${compression.flag}`);
  return { tool, version, path: tool.path, compression };
}

/** One registered database per destination, all on the source, plus a tiny one for the worker's warm-up. */
async function registerDatabases(platform: Platform, source: Source, destinations: DestinationName[]): Promise<void> {
  for (const name of destinations) {
    const { database, storages } = DESTINATIONS[name];
    // Verification would restore each backup in the background and skew the next timing.
    await platform.ops.addDatabase({
      name: database,
      url: targetUrl(source),
      storages: [...storages],
      verifyAfterBackup: false,
    });
  }
  const tiny = await createDatabase(platform.cluster, 'bench_warmup');
  const tinyClient = await connect('bench', tiny);
  await tinyClient.query('create table t as select g from generate_series(1, 1000) g');
  await tinyClient.end();
  await platform.ops.addDatabase({ name: 'warmup', url: targetUrl(tiny), verifyAfterBackup: false });
}

/** Starts the worker, measures it idle, and pays its one-time costs with a backup of the tiny database. */
async function startWarmWorker(
  platform: Platform,
  workerLog: string,
  setWorker: (w: WorkerProcess) => void,
): Promise<{ worker: WorkerProcess; warmups: Omit<Measurements['warmups'], 'pgDump'> }> {
  const worker = startWorkerProcess(platform, workerLog);
  setWorker(worker);
  log(`worker log: ${workerLog}`);
  await Promise.race([
    worker.ready,
    sleep(120_000).then(() => {
      throw new Error('worker not ready after 120 s');
    }),
  ]);
  const idle = procStats(worker.child.pid!);
  await sleep(2000);
  // What the worker burns doing nothing (Temporal polling) is part of its CPU during a backup too.
  const idleCpuPerSecond = (procStats(worker.child.pid!).cpuSeconds - idle.cpuSeconds) / 2;
  const warmBackup = await runHindsightBackup(platform, worker, 'warmup');
  log(
    `worker ready (RSS ${fmtBytes(idle.rssBytes)}, idle CPU ${(idleCpuPerSecond * 100).toFixed(1)}%); ` +
      `warm-up backup of a tiny database: ${fmtSeconds(warmBackup.seconds)}, RSS +${fmtBytes(warmBackup.rssPeakBytes - warmBackup.rssBeforeBytes)}`,
  );
  await sleep(2000);
  return { worker, warmups: { hindsight: warmBackup, idleRssBytes: idle.rssBytes, idleCpuPerSecond } };
}

function logHindsightRun(round: number, who: DestinationName, r: HindsightRun): void {
  log(
    `round ${round} hindsight -> ${who}: ${fmtSeconds(r.seconds)} (activity ${fmtOptional(r.activitySeconds)}), ` +
      `stored ${r.storedBytes} bytes, ${fmtSched(r.pgDump)}, RSS ${fmtBytes(r.rssBeforeBytes)} -> peak ${fmtBytes(r.rssPeakBytes)}, ` +
      `worker CPU ${r.workerCpuSeconds.toFixed(2)} s (${Object.entries(r.workerThreadCpuSeconds)
        .slice(0, 4)
        .map(([n, c]) => `${n} ${c}`)
        .join(', ')})`,
  );
}

/** The measured rounds: pg_dump and every destination once per round, alternating who goes first. */
async function runRounds(
  platform: Platform,
  worker: WorkerProcess,
  dump: { tool: DumpTool; flag: string; source: Source },
  destinations: DestinationName[],
  rounds: number,
): Promise<Pick<Measurements, 'baseline' | 'hindsight'>> {
  const baseline: DumpRun[] = [];
  const hindsight: Measurements['hindsight'] = {};
  for (let round = 1; round <= rounds; round++) {
    // Alternate who goes first, so neither always runs on the other's leftovers.
    const contenders: Array<'pg_dump' | DestinationName> = ['pg_dump', ...destinations];
    const order = round % 2 === 1 ? contenders : [...contenders].reverse();
    for (const who of order) {
      if (who === 'pg_dump') {
        const r = await runPgDump(dump.tool, dump.flag, dump.source);
        baseline.push(r);
        log(`round ${round} pg_dump:   ${fmtSeconds(r.seconds)}, ${r.bytes} bytes, ${fmtSched(r.pgDump)}`);
      } else {
        const r = await runHindsightBackup(platform, worker, DESTINATIONS[who].database);
        (hindsight[who] ??= []).push(r);
        logHindsightRun(round, who, r);
        await sleep(2000);
      }
    }
  }
  return { baseline, hindsight };
}

/** The source database, the warm-ups, then both contenders in alternating order. */
export async function measure(
  platform: Platform,
  destinations: DestinationName[],
  rounds: number,
  sizeMb: number,
  workerLog: string,
  setWorker: (w: WorkerProcess) => void,
): Promise<Measurements> {
  const { source, dataset } = await generateSource(platform, sizeMb);
  const { tool, ...pgDump } = await pgDumpTool(platform);

  // Warm-ups: the page cache for both contenders, and the worker's one-time costs (tool discovery, first workflow).
  const warmDump = await runPgDump(tool, pgDump.compression.flag, source);
  log(`warm-up pg_dump: ${fmtSeconds(warmDump.seconds)}, ${warmDump.bytes} bytes`);
  await registerDatabases(platform, source, destinations);
  const { worker, warmups } = await startWarmWorker(platform, workerLog, setWorker);

  const { baseline, hindsight } = await runRounds(
    platform,
    worker,
    { tool, flag: pgDump.compression.flag, source },
    destinations,
    rounds,
  );
  return { dataset, pgDump, baseline, hindsight, warmups: { pgDump: warmDump, ...warmups } };
}
