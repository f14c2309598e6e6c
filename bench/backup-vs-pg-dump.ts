/**
 * Hindsight's backup pipeline against plain pg_dump on the same database, same compression, same
 * warm cache, to three kinds of destination: a local directory, an S3 server (moto, on this host)
 * and both at once. Environment: BENCH_SIZE_MB (default 1100), BENCH_ROUNDS (default 2),
 * BENCH_DESTINATIONS (comma-separated subset of local,s3,local+s3; default all).
 *
 *   npm run bench
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { connect, libpqEnv, targetUrl, type PgTarget } from '../lib/pg/connection.ts';
import { dumpCompressionFor, toolFor, type ToolInfo } from '../lib/pg/tools.ts';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createDatabase, startPlatform, type Platform } from '../test/support/platform.ts';
import { startMoto, type MotoServer } from '../test/support/servers/moto.ts';
import { generateDataset, type DatasetReport } from './dataset.ts';
import { envInt, log, median } from './settings.ts';

const TARGET_RATIO = 1.05;
const TARGET_RSS_MIB = 32;
const MIB = 1024 * 1024;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Why a contender is slower shows in its pg_dump: CPU used, and time spent runnable but waiting
// for a CPU (the other half of /proc/<pid>/schedstat), i.e. competing with its consumer.

interface PgDumpSched { cpuSeconds: number; cpuWaitSeconds: number }

/** Follows the pg_dump children of `parent` until stopped; reports the busiest one. */
function watchPgDump(parent: number): { stop(): PgDumpSched | null } {
  const last = new Map<number, PgDumpSched>();
  const sample = () => {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (!stat.includes('(pg_dump)') || Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== parent) continue;
        const [run, wait] = readFileSync(`/proc/${entry}/schedstat`, 'utf8').split(' ').map(Number);
        last.set(Number(entry), { cpuSeconds: run! / 1e9, cpuWaitSeconds: wait! / 1e9 });
      } catch {
        // not ours, or gone
      }
    }
  };
  const timer = setInterval(sample, 100);
  return {
    stop() {
      clearInterval(timer);
      return [...last.values()].sort((a, b) => b.cpuSeconds - a.cpuSeconds)[0] ?? null;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The baseline: pg_dump's own output, counted and thrown away.

interface DumpRun { seconds: number; bytes: number; pgDump: PgDumpSched | null }

function runPgDump(pgDump: ToolInfo, flag: string, target: PgTarget): Promise<DumpRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const sched = watchPgDump(process.pid);
    const child = spawn(pgDump.path, ['--format=custom', flag, '--no-password'], {
      env: { ...process.env, ...libpqEnv(target) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { bytes += chunk.length; });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.once('error', (error) => { sched.stop(); reject(error); });
    // 'close' waits for stdout to be drained as well as for the exit.
    child.once('close', (code, signal) => {
      const pgDumpSched = sched.stop();
      if (code === 0) resolve({ seconds: (performance.now() - started) / 1000, bytes, pgDump: pgDumpSched });
      else reject(new Error(`pg_dump failed (${signal ?? code}): ${stderr.trim().slice(-500)}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The contender: the real worker program, in its own process so its memory can be observed.

interface WorkerProcess {
  child: ChildProcess;
  ready: Promise<void>;
  /** Activity start and end per backup id, from the worker's own log (pino epoch milliseconds). */
  activityTimes: Map<string, { started?: number; completed?: number }>;
  tail(): string;
}

/**
 * BENCH_WORKER_NODE_OPTIONS adds Node flags to the worker only, to look inside it
 * (e.g. "--trace-gc", or "--cpu-prof --cpu-prof-dir=bench/out"); its whole log goes to `logFile`.
 */
function startWorkerProcess(platform: Platform, logFile: string): WorkerProcess {
  const main = fileURLToPath(new URL('../worker/main.ts', import.meta.url));
  const extraFlags = (process.env.BENCH_WORKER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  // Flags first, so that one may preload a module.
  const child = spawn(process.execPath, [...extraFlags, main], {
    env: { ...process.env, ...platform.configEnv, HINDSIGHT_LOG_LEVEL: 'info', HINDSIGHT_LOG_PRETTY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const fullLog = createWriteStream(logFile);
  child.once('close', () => fullLog.end());
  const activityTimes: WorkerProcess['activityTimes'] = new Map();
  let markReady!: () => void;
  let markFailed!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => { markReady = resolve; markFailed = reject; });
  ready.catch(() => undefined);

  let partial = '';
  const onLine = (line: string) => {
    fullLog.write(`${line}\n`);
    lines.push(line);
    if (lines.length > 50) lines.shift();
    let record: { msg?: string; time?: number; backupId?: string };
    try { record = JSON.parse(line) as typeof record; } catch { return; }
    if (record.msg === 'worker ready') markReady();
    if (record.backupId && record.time && (record.msg === 'backup started' || record.msg === 'backup dumped')) {
      const entry = activityTimes.get(record.backupId) ?? {};
      if (record.msg === 'backup started') entry.started = record.time;
      else entry.completed = record.time;
      activityTimes.set(record.backupId, entry);
    }
  };
  const onData = (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    parts.filter(Boolean).forEach(onLine);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('exit', (code, signal) => markFailed(new Error(`worker exited (${signal ?? code}) before it was ready:\n${lines.join('\n')}`)));
  return { child, ready, activityTimes, tail: () => lines.join('\n') };
}

async function stopWorkerProcess(worker: WorkerProcess | undefined): Promise<void> {
  if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.child.once('exit', resolve));
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const CLOCK_TICKS = 100; // USER_HZ, fixed at 100 on Linux

/** utime + stime of one /proc/.../stat line, and the thread or process name in it. */
function parseStat(stat: string): { name: string; cpuSeconds: number } {
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return { name: stat.slice(stat.indexOf('(') + 1, close), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
}

const rssOf = (pid: number): number => 1024 * Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

/** The kernel's view of a process: resident memory, CPU time so far, and that CPU time per thread name. */
function procStats(pid: number): { rssBytes: number; cpuSeconds: number; threads: Map<string, number> } {
  const rssBytes = rssOf(pid);
  const threads = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      // Node names nearly all its threads "node": apart from the main one, they are V8's GC
      // helpers and libuv's pool (file writes).
      const name = tid === String(pid) ? 'main' : t.name === 'node' ? 'helpers' : t.name;
      threads.set(name, (threads.get(name) ?? 0) + t.cpuSeconds);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { rssBytes, cpuSeconds: parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuSeconds, threads };
}

/** CPU seconds per thread name between two readings, busiest first; threads that ended are lost. */
function threadCpu(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta = [...after].map(([name, s]) => [name, Math.round((s - (before.get(name) ?? 0)) * 100) / 100] as const);
  return Object.fromEntries(delta.filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]));
}

interface HindsightRun {
  seconds: number;
  activitySeconds: number | null;
  storedBytes: number;
  dumpBytes: number;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  workerCpuSeconds: number;
  workerThreadCpuSeconds: Record<string, number>;
  pgDump: PgDumpSched | null;
}

async function runHindsightBackup(platform: Platform, worker: WorkerProcess, database: string): Promise<HindsightRun> {
  const pid = worker.child.pid!;
  const before = procStats(pid);
  let peak = before.rssBytes;
  const sampler = setInterval(() => {
    try { peak = Math.max(peak, rssOf(pid)); } catch { /* the worker died: the backup reports it */ }
  }, 50);
  const sched = watchPgDump(pid);
  try {
    const started = performance.now();
    const backup = await platform.ops.startBackup(database);
    const outcome = await backup.result();
    const seconds = (performance.now() - started) / 1000;
    const after = procStats(pid);
    peak = Math.max(peak, after.rssBytes);
    if (outcome.status !== 'complete') throw new Error(`backup ${outcome.backupId} ended ${outcome.status}: ${JSON.stringify(outcome.copies)}`);
    // The completion line may trail the workflow result by a moment.
    await sleep(200);
    const times = worker.activityTimes.get(outcome.backupId);
    return {
      seconds,
      activitySeconds: times?.started && times.completed ? (times.completed - times.started) / 1000 : null,
      storedBytes: outcome.sizeBytes,
      dumpBytes: outcome.dumpBytes,
      rssBeforeBytes: before.rssBytes,
      rssPeakBytes: peak,
      workerCpuSeconds: after.cpuSeconds - before.cpuSeconds,
      workerThreadCpuSeconds: threadCpu(before.threads, after.threads),
      pgDump: sched.stop(),
    };
  } finally {
    clearInterval(sampler);
    sched.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting

const fmtBytes = (n: number) => (n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : `${n} B`);
const fmtSeconds = (s: number) => `${s.toFixed(2)} s`;
const fmtOptional = (s: number | null) => (s === null ? '?' : fmtSeconds(s));

function printTable(rows: Array<[string, string, string?]>): void {
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  console.log('');
  for (const [label, value, note] of rows) console.log(`  ${label.padEnd(width)}  ${value.padStart(valueWidth)}${note ? `  ${note}` : ''}`);
  console.log('');
}

const fmtSched = (p: PgDumpSched | null) => (p ? `pg_dump CPU ${fmtSeconds(p.cpuSeconds)}, waited ${fmtSeconds(p.cpuWaitSeconds)} for a CPU` : 'pg_dump not observed');
const medianOf = <T>(runs: T[], pick: (run: T) => number | undefined): number | null => {
  const values = runs.map(pick).filter((v): v is number => v !== undefined);
  return values.length ? median(values) : null;
};

const verdict = (ok: boolean, target: string) => (ok ? `ok (target ${target})` : `TARGET MISSED (target ${target})`);

// ---------------------------------------------------------------------------------------------

/** Where a contender's backups go: one registered database per destination set, all on the same source. */
const DESTINATIONS = {
  local: { database: 'source', storages: ['local'] },
  s3: { database: 'source_s3', storages: ['s3'] },
  'local+s3': { database: 'source_both', storages: ['local', 's3'] },
} as const;
type DestinationName = keyof typeof DESTINATIONS;

function destinationsFromEnv(): DestinationName[] {
  const raw = process.env.BENCH_DESTINATIONS;
  if (!raw) return Object.keys(DESTINATIONS) as DestinationName[];
  const names = raw.split(',').map((x) => x.trim()).filter(Boolean);
  for (const name of names) if (!(name in DESTINATIONS)) throw new Error(`BENCH_DESTINATIONS: unknown destination "${name}" (use ${Object.keys(DESTINATIONS).join(', ')})`);
  return names as DestinationName[];
}

/** An S3 storage on a moto server on this host: real S3 protocol, multipart and all. */
async function addS3Storage(platform: Platform, moto: MotoServer): Promise<void> {
  const client = new S3Client({ endpoint: moto.endpoint, region: moto.region, forcePathStyle: true, credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey } });
  await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
  client.destroy();
  await platform.ops.saveStorage('s3', {
    type: 's3', bucket: 'bench', endpoint: moto.endpoint, region: moto.region, forcePathStyle: true,
    accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey, prefix: 'hindsight/',
  });
}

interface Measurements {
  dataset: DatasetReport;
  pgDump: { version: string; path: string; compression: ReturnType<typeof dumpCompressionFor> };
  baseline: DumpRun[];
  hindsight: Partial<Record<DestinationName, HindsightRun[]>>;
  warmups: { pgDump: DumpRun; hindsight: HindsightRun; idleRssBytes: number; idleCpuPerSecond: number };
}

/** The source database, the warm-ups, then both contenders in alternating order. */
async function measure(platform: Platform, destinations: DestinationName[], rounds: number, sizeMb: number, workerLog: string, setWorker: (w: WorkerProcess) => void): Promise<Measurements> {
  const source = await createDatabase(platform.cluster, 'bench_source');
  log(`generating about ${sizeMb} MiB of data`);
  const clients = await Promise.all([connect('bench', source), connect('bench', source)]);
  const dataset = await generateDataset(clients, sizeMb).finally(() => Promise.all(clients.map((c) => c.end())));
  log(`database size ${fmtBytes(dataset.sizeBytes)} (pg_database_size ${dataset.sizeBytes}), generated in ${fmtSeconds(dataset.seconds)}`);
  for (const t of dataset.tables) log(`  ${t.name.padEnd(12)} ${String(t.rows).padStart(10)} rows  ${fmtBytes(t.bytes)}`);

  const tool = await toolFor('pg_dump', platform.cluster.major);
  const compression = dumpCompressionFor(tool.major);
  const version = execFileSync(tool.path, ['--version'], { encoding: 'utf8' }).trim();
  log(`${version} (${tool.path}), ${compression.flag}`);

  // Warm-ups: the page cache for both contenders, and the worker's one-time costs (tool discovery, first workflow).
  const warmDump = await runPgDump(tool, compression.flag, source);
  log(`warm-up pg_dump: ${fmtSeconds(warmDump.seconds)}, ${warmDump.bytes} bytes`);
  for (const name of destinations) {
    const { database, storages } = DESTINATIONS[name];
    // Verification would restore each backup in the background and skew the next timing.
    await platform.ops.addDatabase({ name: database, url: targetUrl(source), storages: [...storages], verifyAfterBackup: false });
  }
  const tiny = await createDatabase(platform.cluster, 'bench_warmup');
  const tinyClient = await connect('bench', tiny);
  await tinyClient.query('create table t as select g from generate_series(1, 1000) g');
  await tinyClient.end();
  await platform.ops.addDatabase({ name: 'warmup', url: targetUrl(tiny), verifyAfterBackup: false });

  const worker = startWorkerProcess(platform, workerLog);
  setWorker(worker);
  log(`worker log: ${workerLog}`);
  await Promise.race([worker.ready, sleep(120_000).then(() => { throw new Error('worker not ready after 120 s'); })]);
  const idle = procStats(worker.child.pid!);
  await sleep(2000);
  // What the worker burns doing nothing (Temporal polling) is part of its CPU during a backup too.
  const idleCpuPerSecond = (procStats(worker.child.pid!).cpuSeconds - idle.cpuSeconds) / 2;
  const warmBackup = await runHindsightBackup(platform, worker, 'warmup');
  log(`worker ready (RSS ${fmtBytes(idle.rssBytes)}, idle CPU ${(idleCpuPerSecond * 100).toFixed(1)}%); ` +
    `warm-up backup of a tiny database: ${fmtSeconds(warmBackup.seconds)}, RSS +${fmtBytes(warmBackup.rssPeakBytes - warmBackup.rssBeforeBytes)}`);
  await sleep(2000);

  const baseline: DumpRun[] = [];
  const hindsight: Measurements['hindsight'] = {};
  for (let round = 1; round <= rounds; round++) {
    // Alternate who goes first, so neither always runs on the other's leftovers.
    const contenders: Array<'pg_dump' | DestinationName> = ['pg_dump', ...destinations];
    const order = round % 2 === 1 ? contenders : [...contenders].reverse();
    for (const who of order) {
      if (who === 'pg_dump') {
        const r = await runPgDump(tool, compression.flag, source);
        baseline.push(r);
        log(`round ${round} pg_dump:   ${fmtSeconds(r.seconds)}, ${r.bytes} bytes, ${fmtSched(r.pgDump)}`);
      } else {
        const r = await runHindsightBackup(platform, worker, DESTINATIONS[who].database);
        (hindsight[who] ??= []).push(r);
        log(`round ${round} hindsight -> ${who}: ${fmtSeconds(r.seconds)} (activity ${fmtOptional(r.activitySeconds)}), ` +
          `stored ${r.storedBytes} bytes, ${fmtSched(r.pgDump)}, RSS ${fmtBytes(r.rssBeforeBytes)} -> peak ${fmtBytes(r.rssPeakBytes)}, ` +
          `worker CPU ${r.workerCpuSeconds.toFixed(2)} s (${Object.entries(r.workerThreadCpuSeconds).slice(0, 4).map(([n, c]) => `${n} ${c}`).join(', ')})`);
        await sleep(2000);
      }
    }
  }
  return {
    dataset,
    pgDump: { version, path: tool.path, compression },
    baseline,
    hindsight,
    warmups: { pgDump: warmDump, hindsight: warmBackup, idleRssBytes: idle.rssBytes, idleCpuPerSecond },
  };
}

/** Prints the table and returns the same figures for the JSON file. */
function summarize(m: Measurements, settings: { sizeMb: number; rounds: number; destinations: DestinationName[]; workerNodeOptions: string | null }) {
  const { dataset, baseline } = m;
  const pgDumpSeconds = median(baseline.map((r) => r.seconds));
  const pgDumpBytes = median(baseline.map((r) => r.bytes));
  const cpus = os.availableParallelism();
  const { compression } = m.pgDump;

  const rows: Array<[string, string, string?]> = [
    ['database size', fmtBytes(dataset.sizeBytes), `(${dataset.sizeBytes} bytes, generated in ${fmtSeconds(dataset.seconds)})`],
    ['pg_dump compression', compression.flag, `(${compression.name} level ${compression.level}, as Hindsight uses; ${m.pgDump.version})`],
    ['CPUs', `${cpus}`, os.cpus()[0]?.model ?? ''],
    ['rounds', `${settings.rounds}`, '(medians below)'],
    ['pg_dump wall time', fmtSeconds(pgDumpSeconds), `runs: ${baseline.map((r) => r.seconds.toFixed(2)).join(', ')}`],
    ['pg_dump output', `${pgDumpBytes} B`, `(${fmtBytes(pgDumpBytes)}; database/dump = ${(dataset.sizeBytes / pgDumpBytes).toFixed(2)}x)`],
    ['pg_dump CPU, alone', fmtOptional(medianOf(baseline, (r) => r.pgDump?.cpuSeconds)), `waited ${fmtOptional(medianOf(baseline, (r) => r.pgDump?.cpuWaitSeconds))} for a CPU`],
  ];
  const perDestination: Record<string, unknown> = {};
  for (const name of settings.destinations) {
    const runs = m.hindsight[name] ?? [];
    if (runs.length === 0) continue;
    const seconds = median(runs.map((r) => r.seconds));
    const activitySeconds = medianOf(runs, (r) => r.activitySeconds ?? undefined);
    const ratio = seconds / pgDumpSeconds;
    // The worst round counts: memory must stay bounded every time, not on average.
    const rssGrowthMib = Math.max(...runs.map((r) => (r.rssPeakBytes - r.rssBeforeBytes) / MIB));
    const storedBytes = median(runs.map((r) => r.storedBytes));
    const dumpBytes = median(runs.map((r) => r.dumpBytes));
    const workerCpuSeconds = median(runs.map((r) => r.workerCpuSeconds));
    // Several destinations share one dump, so the memory bound is per destination.
    const rssTarget = TARGET_RSS_MIB * DESTINATIONS[name].storages.length;
    rows.push(
      [`-> ${name}: wall time`, fmtSeconds(seconds), `runs: ${runs.map((r) => r.seconds.toFixed(2)).join(', ')}; dump activity ${fmtOptional(activitySeconds)}`],
      [`-> ${name}: ratio to pg_dump`, ratio.toFixed(3), name === 'local' ? verdict(ratio <= TARGET_RATIO, `<= ${TARGET_RATIO}`) : '(network destination: no target)'],
      [`-> ${name}: stored object`, `${storedBytes} B`, `(encrypted: +${((storedBytes / dumpBytes - 1) * 100).toFixed(3)}%)`],
      [`-> ${name}: peak RSS growth`, `${rssGrowthMib.toFixed(1)} MiB`, verdict(rssGrowthMib <= rssTarget, `<= ${rssTarget} MiB`)],
      [`-> ${name}: worker CPU`, fmtSeconds(workerCpuSeconds), `pg_dump CPU ${fmtOptional(medianOf(runs, (r) => r.pgDump?.cpuSeconds))}, waited ${fmtOptional(medianOf(runs, (r) => r.pgDump?.cpuWaitSeconds))} for a CPU`],
    );
    perDestination[name] = {
      runs, medianSeconds: seconds, medianActivitySeconds: activitySeconds, medianStoredBytes: storedBytes, medianDumpBytes: dumpBytes, medianWorkerCpuSeconds: workerCpuSeconds,
      ratio: { value: ratio, target: name === 'local' ? TARGET_RATIO : null, met: name === 'local' ? ratio <= TARGET_RATIO : null },
      peakRssGrowthMib: { value: rssGrowthMib, target: rssTarget, met: rssGrowthMib <= rssTarget },
    };
  }
  printTable(rows);

  return {
    at: new Date().toISOString(),
    machine: { cpus, cpuModel: os.cpus()[0]?.model ?? null, memoryBytes: os.totalmem(), node: process.version },
    settings,
    dataset,
    pgDump: { version: m.pgDump.version, path: m.pgDump.path, compression: compression.flag },
    baseline: { runs: baseline, medianSeconds: pgDumpSeconds, medianBytes: pgDumpBytes },
    hindsight: perDestination,
    warmups: m.warmups,
    compressionRatio: dataset.sizeBytes / pgDumpBytes,
  };
}

async function main(): Promise<void> {
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
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= (async () => {
    await stopWorkerProcess(worker).catch(() => undefined);
    await platform?.stop().catch(() => undefined);
    await moto?.stop().catch(() => undefined);
  })());
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    log('starting the platform (PostgreSQL, Temporal dev server, catalog)');
    platform = await startPlatform();
    if (settings.destinations.some((d) => d.includes('s3'))) {
      moto = await startMoto();
      await addS3Storage(platform, moto);
      log(`S3 storage on moto at ${moto.endpoint}`);
    }
    const measurements = await measure(platform, settings.destinations, settings.rounds, settings.sizeMb, `${outDir}worker-${stamp}.log`, (w) => { worker = w; });
    const results = summarize(measurements, settings);
    const file = `${outDir}results-${stamp}.json`;
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
    log(`results written to ${file}`);
  } catch (error) {
    if (worker) console.error(`worker log (last lines):\n${worker.tail()}`);
    throw error;
  } finally {
    log('cleaning up');
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
