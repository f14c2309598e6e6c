/**
 * Hindsight's backup pipeline against plain pg_dump on the same database, same compression, same
 * warm cache. Environment: BENCH_SIZE_MB (default 1100), BENCH_ROUNDS (default 2).
 *
 *   npm run bench
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { connect, libpqEnv, targetUrl, type PgTarget } from '../lib/pg/connection.ts';
import { dumpCompressionFor, toolFor, type ToolInfo } from '../lib/pg/tools.ts';
import { createDatabase, startPlatform, type Platform } from '../test/support/platform.ts';
import { generateDataset, type DatasetReport } from './dataset.ts';

const TARGET_RATIO = 1.05;
const TARGET_RSS_MIB = 32;
const MIB = 1024 * 1024;

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

// ---------------------------------------------------------------------------------------------
// The baseline: pg_dump's own output, counted and thrown away.

interface DumpRun { seconds: number; bytes: number }

function runPgDump(pgDump: ToolInfo, flag: string, target: PgTarget): Promise<DumpRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(pgDump.path, ['--format=custom', flag, '--no-password'], {
      env: { ...process.env, ...libpqEnv(target) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { bytes += chunk.length; });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.once('error', reject);
    // 'close' waits for stdout to be drained as well as for the exit.
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ seconds: (performance.now() - started) / 1000, bytes });
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

function startWorkerProcess(platform: Platform): WorkerProcess {
  const main = fileURLToPath(new URL('../worker/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: { ...process.env, ...platform.configEnv, HINDSIGHT_LOG_LEVEL: 'info', HINDSIGHT_LOG_PRETTY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const activityTimes: WorkerProcess['activityTimes'] = new Map();
  let markReady!: () => void;
  let markFailed!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => { markReady = resolve; markFailed = reject; });
  ready.catch(() => undefined);

  let partial = '';
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > 50) lines.shift();
    let record: { msg?: string; time?: number; backupId?: string };
    try { record = JSON.parse(line) as typeof record; } catch { return; }
    if (record.msg === 'worker ready') markReady();
    if (record.backupId && record.time && (record.msg === 'backup started' || record.msg === 'backup complete')) {
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

/** The kernel's view of a process: resident memory, CPU time so far, and that CPU time per thread name. */
function procStats(pid: number): { rssBytes: number; cpuSeconds: number; threads: Map<string, number> } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  const threads = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      // Node names nearly every thread "node"; the main one (JavaScript, streams) is the one that matters.
      const name = tid === String(pid) ? 'main' : t.name;
      threads.set(name, (threads.get(name) ?? 0) + t.cpuSeconds);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { rssBytes: rssKb * 1024, cpuSeconds: parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuSeconds, threads };
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
}

async function runHindsightBackup(platform: Platform, worker: WorkerProcess, database: string): Promise<HindsightRun> {
  const pid = worker.child.pid!;
  const before = procStats(pid);
  let peak = before.rssBytes;
  const sampler = setInterval(() => {
    try { peak = Math.max(peak, procStats(pid).rssBytes); } catch { /* the worker died: the backup reports it */ }
  }, 50);
  try {
    const started = performance.now();
    const backup = await platform.ops.startBackup(database);
    const outcome = await backup.result();
    const seconds = (performance.now() - started) / 1000;
    const after = procStats(pid);
    peak = Math.max(peak, after.rssBytes);
    if (outcome.status !== 'complete') throw new Error(`backup ${outcome.backupId} ended ${outcome.status}`);
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
    };
  } finally {
    clearInterval(sampler);
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting

const fmtBytes = (n: number) => (n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : `${n} B`);
const fmtSeconds = (s: number) => `${s.toFixed(2)} s`;

function printTable(rows: Array<[string, string, string?]>): void {
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  console.log('');
  for (const [label, value, note] of rows) console.log(`  ${label.padEnd(width)}  ${value.padStart(valueWidth)}${note ? `  ${note}` : ''}`);
  console.log('');
}

const verdict = (ok: boolean, target: string) => (ok ? `ok (target ${target})` : `TARGET MISSED (target ${target})`);

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const sizeMb = envInt('BENCH_SIZE_MB', 1100);
  const rounds = envInt('BENCH_ROUNDS', 2);
  let platform: Platform | undefined;
  let worker: WorkerProcess | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= (async () => {
    await stopWorkerProcess(worker).catch(() => undefined);
    await platform?.stop().catch(() => undefined);
  })());
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    log(`starting the platform (PostgreSQL, Temporal dev server, catalog)`);
    platform = await startPlatform();
    const source = await createDatabase(platform.cluster, 'bench_source');

    log(`generating about ${sizeMb} MiB of data`);
    const clients = await Promise.all([connect('bench', source), connect('bench', source)]);
    let dataset: DatasetReport;
    try {
      dataset = await generateDataset(clients, sizeMb);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    log(`database size ${fmtBytes(dataset.sizeBytes)} (pg_database_size ${dataset.sizeBytes}), generated in ${fmtSeconds(dataset.seconds)}`);
    for (const t of dataset.tables) log(`  ${t.name.padEnd(12)} ${String(t.rows).padStart(10)} rows  ${fmtBytes(t.bytes)}`);

    const pgDump = await toolFor('pg_dump', platform.cluster.major);
    const compression = dumpCompressionFor(pgDump.major);
    const pgDumpVersion = execFileSync(pgDump.path, ['--version'], { encoding: 'utf8' }).trim();
    log(`${pgDumpVersion} (${pgDump.path}), ${compression.flag}`);

    // Warm-ups: the page cache for both contenders, and the worker's one-time costs (tool discovery, first workflow).
    const warm = await runPgDump(pgDump, compression.flag, source);
    log(`warm-up pg_dump: ${fmtSeconds(warm.seconds)}, ${warm.bytes} bytes`);
    await platform.ops.addDatabase({ name: 'source', url: targetUrl(source) });
    const tiny = await createDatabase(platform.cluster, 'bench_warmup');
    const tinyClient = await connect('bench', tiny);
    await tinyClient.query('create table t as select g from generate_series(1, 1000) g');
    await tinyClient.end();
    await platform.ops.addDatabase({ name: 'warmup', url: targetUrl(tiny) });

    worker = startWorkerProcess(platform);
    await Promise.race([worker.ready, sleep(120_000).then(() => { throw new Error('worker not ready after 120 s'); })]);
    const idle = procStats(worker.child.pid!);
    const idleRss = idle.rssBytes;
    await sleep(2000);
    // What the worker burns doing nothing (Temporal polling): part of its CPU during a backup too.
    const idleCpuPerSecond = (procStats(worker.child.pid!).cpuSeconds - idle.cpuSeconds) / 2;
    const warmup = await runHindsightBackup(platform, worker, 'warmup');
    log(`worker ready (RSS ${fmtBytes(idleRss)}, idle CPU ${(idleCpuPerSecond * 100).toFixed(1)}%); warm-up backup of a tiny database: ${fmtSeconds(warmup.seconds)}, RSS +${fmtBytes(warmup.rssPeakBytes - warmup.rssBeforeBytes)}`);
    await sleep(2000);

    const baseline: DumpRun[] = [];
    const hindsight: HindsightRun[] = [];
    for (let round = 1; round <= rounds; round++) {
      // Alternate who goes first, so neither always runs on the other's leftovers.
      const order = round % 2 === 1 ? ['pg_dump', 'hindsight'] : ['hindsight', 'pg_dump'];
      for (const who of order) {
        if (who === 'pg_dump') {
          const r = await runPgDump(pgDump, compression.flag, source);
          baseline.push(r);
          log(`round ${round} pg_dump:   ${fmtSeconds(r.seconds)}, ${r.bytes} bytes`);
        } else {
          const r = await runHindsightBackup(platform, worker, 'source');
          hindsight.push(r);
          log(`round ${round} hindsight: ${fmtSeconds(r.seconds)} (activity ${r.activitySeconds?.toFixed(2) ?? '?'} s), ` +
            `stored ${r.storedBytes} bytes, RSS ${fmtBytes(r.rssBeforeBytes)} -> peak ${fmtBytes(r.rssPeakBytes)}, worker CPU ${r.workerCpuSeconds.toFixed(2)} s ` +
            `(${Object.entries(r.workerThreadCpuSeconds).slice(0, 4).map(([n, c]) => `${n} ${c}`).join(', ')})`);
          await sleep(2000);
        }
      }
    }

    const pgDumpSeconds = median(baseline.map((r) => r.seconds));
    const hindsightSeconds = median(hindsight.map((r) => r.seconds));
    const activitySeconds = hindsight.every((r) => r.activitySeconds !== null) ? median(hindsight.map((r) => r.activitySeconds!)) : null;
    const ratio = hindsightSeconds / pgDumpSeconds;
    // The worst round counts: memory must stay bounded every time, not on average.
    const rssGrowthMib = Math.max(...hindsight.map((r) => (r.rssPeakBytes - r.rssBeforeBytes) / MIB));
    const pgDumpBytes = median(baseline.map((r) => r.bytes));
    const storedBytes = median(hindsight.map((r) => r.storedBytes));
    const hindsightDumpBytes = median(hindsight.map((r) => r.dumpBytes));
    const cpus = os.availableParallelism();

    printTable([
      ['database size', `${fmtBytes(dataset.sizeBytes)}`, `(${dataset.sizeBytes} bytes, generated in ${fmtSeconds(dataset.seconds)})`],
      ['pg_dump', pgDumpVersion.replace(/^pg_dump \(PostgreSQL\) /, ''), `${compression.flag} (${compression.name} level ${compression.level}, as Hindsight uses)`],
      ['CPUs', `${cpus}`, os.cpus()[0]?.model ?? ''],
      ['rounds', `${rounds}`, '(medians below)'],
      ['pg_dump wall time', fmtSeconds(pgDumpSeconds), `runs: ${baseline.map((r) => r.seconds.toFixed(2)).join(', ')}`],
      ['hindsight wall time', fmtSeconds(hindsightSeconds), `runs: ${hindsight.map((r) => r.seconds.toFixed(2)).join(', ')}`],
      ['  of which dump activity', activitySeconds === null ? '?' : fmtSeconds(activitySeconds), '(worker log: backup started -> backup complete)'],
      ['ratio hindsight/pg_dump', ratio.toFixed(3), verdict(ratio <= TARGET_RATIO, `<= ${TARGET_RATIO}`)],
      ['pg_dump output', `${pgDumpBytes} B`, `(${fmtBytes(pgDumpBytes)}, database/dump = ${(dataset.sizeBytes / pgDumpBytes).toFixed(2)}x)`],
      ['hindsight dump', `${hindsightDumpBytes} B`, `(${fmtBytes(hindsightDumpBytes)})`],
      ['hindsight stored object', `${storedBytes} B`, `(${fmtBytes(storedBytes)}, encrypted, +${((storedBytes / hindsightDumpBytes - 1) * 100).toFixed(3)}%)`],
      ['worker peak RSS growth', `${rssGrowthMib.toFixed(1)} MiB`, verdict(rssGrowthMib <= TARGET_RSS_MIB, `<= ${TARGET_RSS_MIB} MiB`)],
      ['worker CPU per backup', fmtSeconds(median(hindsight.map((r) => r.workerCpuSeconds))), ''],
    ]);

    const results = {
      at: new Date().toISOString(),
      machine: { cpus, cpuModel: os.cpus()[0]?.model ?? null, memoryBytes: os.totalmem(), node: process.version },
      settings: { sizeMb, rounds },
      dataset,
      pgDump: { version: pgDumpVersion, path: pgDump.path, compression: compression.flag },
      baseline: { runs: baseline, medianSeconds: pgDumpSeconds, medianBytes: pgDumpBytes, warmup: warm },
      hindsight: {
        runs: hindsight, medianSeconds: hindsightSeconds, medianActivitySeconds: activitySeconds,
        medianStoredBytes: storedBytes, medianDumpBytes: hindsightDumpBytes, warmup, idleRssBytes: idleRss, idleCpuPerSecond,
      },
      ratio: { value: ratio, target: TARGET_RATIO, met: ratio <= TARGET_RATIO },
      peakRssGrowthMib: { value: rssGrowthMib, target: TARGET_RSS_MIB, met: rssGrowthMib <= TARGET_RSS_MIB },
      compressionRatio: dataset.sizeBytes / pgDumpBytes,
    };
    const outDir = fileURLToPath(new URL('./out/', import.meta.url));
    await mkdir(outDir, { recursive: true });
    const file = `${outDir}results-${results.at.replace(/[:.]/g, '-')}.json`;
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
