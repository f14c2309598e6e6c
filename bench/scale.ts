/**
 * How scheduled backups hold up when one platform carries many databases. N small databases on one
 * PostgreSQL server, each registered through the product's own addDatabase with a daily cron at a
 * staggered minute so that the N runs spread evenly over a window, are backed up by the real worker
 * program: one process, then two on the same task queue, each phase with fresh schedule slots.
 *
 * Per backup it measures the lag from the scheduled time (the `scheduled-<time>` suffix Temporal
 * gives the workflow id) to the workflow's start (Temporal's scheduler), to its first activity (the
 * catalog row, i.e. a worker has picked it up) and to the dump; per phase the throughput, the RSS
 * of every worker and of the Temporal dev server, the catalog's size and where the CPU went.
 *
 *   scripts/node bench/scale.ts
 *   SCALE_DATABASES=100 SCALE_WINDOW_MINUTES=3 scripts/node bench/scale.ts     # quick run
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
 * (use with a short SCALE_HEALTH_INTERVAL_SECONDS such as the product's default, 60). Writes
 * bench/out/scale-<stamp>.json, every backup's timings and the workers' logs beside it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { connect, quoteIdent, targetUrl } from '../lib/pg/connection.ts';
import { startPlatform, type Platform } from '../test/support/platform.ts';

const MIB = 1024 * 1024;
const CLOCK_TICKS = 100; // USER_HZ, fixed at 100 on Linux
/** The target: p99 lag from the scheduled time to the backup's first activity, at 1,000 databases an hour. */
const TARGET_P99_SECONDS = 5;
const TARGET_PER_HOUR = 1000;

function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

function envWorkers(): number[] {
  const raw = process.env.SCALE_WORKERS ?? '1,2';
  const counts = raw.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 16)) {
    throw new Error(`SCALE_WORKERS must be a comma-separated list of worker counts (1-16), e.g. "1,2"; got "${raw}"`);
  }
  return counts;
}

function envTimezone(): string {
  const tz = process.env.SCALE_TIMEZONE || 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
  } catch {
    throw new Error(`SCALE_TIMEZONE must be an IANA timezone such as UTC or Europe/Paris, got "${tz}"`);
  }
  return tz;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const log = (message: string) => console.log(`[scale ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** Runs `fn` over `items` with at most `limit` calls in flight, in order of the items. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index]!, index);
    }
  }));
}

// ---------------------------------------------------------------------------------------------
// Statistics

interface Stats { n: number; p50: number | null; p90: number | null; p99: number | null; max: number | null; mean: number | null }

/** Nearest-rank percentiles: p99 of 1,000 samples is the 990th smallest, an observed value. */
function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => (sorted.length ? sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]! : null);
  const round = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
  return {
    n: sorted.length,
    p50: round(rank(50)), p90: round(rank(90)), p99: round(rank(99)),
    max: round(sorted.length ? sorted[sorted.length - 1]! : null),
    mean: round(sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : null),
  };
}

/** Total length of the union of [start, end] intervals: the time at least one backup was in flight. */
function unionSeconds(intervals: Array<[number, number]>): number {
  const sorted = intervals.filter(([s, e]) => e >= s).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let current: [number, number] | null = null;
  for (const [s, e] of sorted) {
    if (current && s <= current[1]) current[1] = Math.max(current[1], e);
    else {
      if (current) total += current[1] - current[0];
      current = [s, e];
    }
  }
  if (current) total += current[1] - current[0];
  return total / 1000;
}

/** The most events in any window of `windowMs`. */
function peakInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! > windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// The kernel's view: resident memory and CPU time of our processes and of everything else

const rssOf = (pid: number): number | null => {
  try {
    return 1024 * Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return null;
  }
};

interface ProcEntry { ppid: number; command: string; cpuSeconds: number; selfCpuSeconds: number }
interface CpuSnapshot { at: number; machineBusy: number; machineTotal: number; procs: Map<number, ProcEntry> }

/** utime + stime of the process and of its children it has reaped (pg_dump, for a worker). */
function readProc(pid: number): ProcEntry | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    const selfTicks = Number(fields[11]) + Number(fields[12]);
    let command = stat.slice(stat.indexOf('(') + 1, close);
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv.length) command = argv.slice(0, 4).join(' ').slice(0, 120);
    } catch {
      // kernel thread or gone: keep the short name
    }
    return { ppid: Number(fields[1]), command, cpuSeconds: ticks / CLOCK_TICKS, selfCpuSeconds: selfTicks / CLOCK_TICKS };
  } catch {
    return null;
  }
}

function cpuSnapshot(): CpuSnapshot {
  const [, ...jiffies] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const values = jiffies.map(Number);
  // Guest time is already counted in user time.
  const total = values.slice(0, 8).reduce((s, v) => s + v, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  const procs = new Map<number, ProcEntry>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const proc = readProc(Number(entry));
    if (proc) procs.set(Number(entry), proc);
  }
  return { at: Date.now(), machineBusy: (total - idle) / CLOCK_TICKS, machineTotal: total / CLOCK_TICKS, procs };
}

/** A process and its live descendants, not descending into `stop` (counted in their own group). */
function subtree(procs: Map<number, ProcEntry>, root: number, stop: Set<number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const out: number[] = [];
  const queue = procs.has(root) ? [root] : [];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    for (const child of children.get(pid) ?? []) if (!stop.has(child)) queue.push(child);
  }
  return out;
}

interface CpuGroups { workers: number[]; temporal: number | null; postmaster: number | null }

interface CpuReport {
  wallSeconds: number;
  /** Busy share of all CPUs of the machine over the interval. */
  machineBusyPercent: number;
  seconds: { workers: number; temporal: number; postgres: number; harness: number; other: number };
  /** The busiest processes that are not ours: whatever else ran on the machine meanwhile. */
  topOther: Array<{ pid: number; command: string; cpuSeconds: number }>;
}

/**
 * Where the CPU went between two snapshots. A group is its root processes and their descendants;
 * a child that ended moves its time into its parent's reaped-children time, so sums stay whole.
 */
function cpuBetween(a: CpuSnapshot, b: CpuSnapshot, groups: CpuGroups): CpuReport {
  const roots = new Set([...groups.workers, ...(groups.temporal ? [groups.temporal] : [])]);
  const pidsAt = (snap: CpuSnapshot) => ({
    workers: groups.workers.flatMap((pid) => subtree(snap.procs, pid, new Set())),
    temporal: groups.temporal ? subtree(snap.procs, groups.temporal, new Set()) : [],
    postgres: groups.postmaster ? subtree(snap.procs, groups.postmaster, new Set()) : [],
    harness: subtree(snap.procs, process.pid, roots),
  });
  const sum = (snap: CpuSnapshot, pids: number[]) => pids.reduce((s, pid) => s + (snap.procs.get(pid)?.cpuSeconds ?? 0), 0);
  const before = pidsAt(a);
  const after = pidsAt(b);
  const delta = (key: keyof typeof before) => Math.max(0, sum(b, after[key]) - sum(a, before[key]));
  // The harness's reaped children include workers of earlier phases: only its own time counts.
  const harness = Math.max(0, (b.procs.get(process.pid)?.cpuSeconds ?? 0) - (a.procs.get(process.pid)?.cpuSeconds ?? 0));
  const ours = new Set([...after.workers, ...after.temporal, ...after.postgres, ...after.harness]);
  const seconds = { workers: delta('workers'), temporal: delta('temporal'), postgres: delta('postgres'), harness, other: 0 };
  const machineBusy = b.machineBusy - a.machineBusy;
  seconds.other = Math.max(0, machineBusy - seconds.workers - seconds.temporal - seconds.postgres - seconds.harness);
  const topOther = [...b.procs]
    .filter(([pid]) => !ours.has(pid))
    // Own time only: a foreign parent's reaped-children time jumps when a long job of its ends.
    .map(([pid, p]) => ({ pid, command: p.command, cpuSeconds: p.selfCpuSeconds - (a.procs.get(pid)?.selfCpuSeconds ?? 0) }))
    .filter((p) => p.cpuSeconds >= 1)
    .sort((x, y) => y.cpuSeconds - x.cpuSeconds)
    .slice(0, 6);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    wallSeconds: round((b.at - a.at) / 1000),
    machineBusyPercent: round((100 * machineBusy) / Math.max(1e-9, b.machineTotal - a.machineTotal)),
    seconds: { workers: round(seconds.workers), temporal: round(seconds.temporal), postgres: round(seconds.postgres), harness: round(seconds.harness), other: round(seconds.other) },
    topOther: topOther.map((p) => ({ ...p, cpuSeconds: round(p.cpuSeconds) })),
  };
}

/** Samples the RSS of the given processes every second; also the 1-minute load average. */
function watchMemory(pids: () => number[]) {
  const seen = new Map<number, { first: number; peak: number; last: number }>();
  const loads: number[] = [];
  const sample = () => {
    for (const pid of pids()) {
      const rss = rssOf(pid);
      if (rss === null) continue;
      const entry = seen.get(pid);
      if (entry) {
        entry.peak = Math.max(entry.peak, rss);
        entry.last = rss;
      } else seen.set(pid, { first: rss, peak: rss, last: rss });
    }
    loads.push(os.loadavg()[0]!);
  };
  sample();
  const timer = setInterval(sample, 1000);
  return {
    of: (pid: number) => seen.get(pid) ?? null,
    load: () => ({ mean: loads.length ? Math.round((loads.reduce((s, v) => s + v, 0) / loads.length) * 100) / 100 : null, max: loads.length ? Math.max(...loads) : null }),
    stop() {
      sample();
      clearInterval(timer);
    },
  };
}

/** The Temporal dev server the platform started (a child of this process), found by its port. */
function findTemporalPid(port: string): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('--port');
      if (argv.includes('start-dev') && at >= 0 && argv[at + 1] === port) return Number(entry);
    } catch {
      // gone
    }
  }
  return null;
}

function postmasterPid(platform: Platform): number | null {
  try {
    return Number(readFileSync(`${platform.cluster.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The worker program, as it runs in production, one child process each

interface WorkerProcess {
  label: string;
  child: ChildProcess;
  pid: number;
  ready: Promise<void>;
  /** When the dump activity began, per backup id, from the worker's own log (pino epoch ms). */
  dumpStarts: Map<string, number>;
  tail(): string;
}

function startWorkerProcess(platform: Platform, label: string, logFile: string): WorkerProcess {
  const main = fileURLToPath(new URL('../worker/main.ts', import.meta.url));
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, ...platform.configEnv, HINDSIGHT_LOG_LEVEL: 'info', HINDSIGHT_LOG_PRETTY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const fullLog = createWriteStream(logFile);
  child.once('close', () => fullLog.end());
  const dumpStarts = new Map<string, number>();
  let markReady!: () => void;
  let markFailed!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => { markReady = resolve; markFailed = reject; });
  ready.catch(() => undefined);
  let partial = '';
  const onLine = (line: string) => {
    fullLog.write(`${line}\n`);
    lines.push(line);
    if (lines.length > 40) lines.shift();
    let record: { msg?: string; time?: number; backupId?: string };
    try { record = JSON.parse(line) as typeof record; } catch { return; }
    if (record.msg === 'worker ready') markReady();
    if (record.msg === 'backup started' && record.backupId && record.time && !dumpStarts.has(record.backupId)) dumpStarts.set(record.backupId, record.time);
  };
  const onData = (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    parts.filter(Boolean).forEach(onLine);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('exit', (code, signal) => markFailed(new Error(`worker ${label} exited (${signal ?? code}) before it was ready:\n${lines.join('\n')}`)));
  if (child.pid === undefined) throw new Error(`worker ${label} did not start`);
  return { label, child, pid: child.pid, ready, dumpStarts, tail: () => lines.join('\n') };
}

async function stopWorkerProcess(worker: WorkerProcess): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.child.once('exit', resolve));
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function startWorkers(platform: Platform, count: number, tag: string, outPrefix: string, live: Set<WorkerProcess>): Promise<WorkerProcess[]> {
  const workers = Array.from({ length: count }, (_, i) => startWorkerProcess(platform, `${tag}.${i + 1}`, `${outPrefix}-worker-${tag}.${i + 1}.log`));
  workers.forEach((w) => live.add(w));
  await Promise.race([
    Promise.all(workers.map((w) => w.ready)),
    sleep(180_000).then(() => { throw new Error(`workers ${tag} not ready after 180 s`); }),
  ]);
  return workers;
}

async function stopWorkers(workers: WorkerProcess[], live: Set<WorkerProcess>): Promise<void> {
  await Promise.all(workers.map((w) => stopWorkerProcess(w)));
  workers.forEach((w) => live.delete(w));
}

// ---------------------------------------------------------------------------------------------
// The catalog, read directly: its size and what each kind of row costs

const CATALOG_TABLES = ['databases', 'database_storages', 'backups', 'backup_copies', 'verifications', 'health_events', 'notifications'] as const;

interface CatalogStats {
  sizeBytes: number;
  tables: Record<string, { rows: number; bytes: number }>;
  /** Average stored width of a backup row and of its per-table row counts (jsonb). */
  avgBackupRowBytes: number | null;
  avgRowCountsBytes: number | null;
  avgVerificationRowBytes: number | null;
  avgVerificationReportBytes: number | null;
}

async function catalogStats(platform: Platform): Promise<CatalogStats> {
  const client = await connect('catalog', platform.cluster.target('catalog'));
  try {
    const size = await client.query<{ n: string }>('select pg_database_size(current_database())::text as n');
    const tables: CatalogStats['tables'] = {};
    for (const table of CATALOG_TABLES) {
      const { rows } = await client.query<{ rows: string; bytes: string }>(`select count(*)::text as rows, pg_total_relation_size('${table}')::text as bytes from ${quoteIdent(table)}`);
      tables[table] = { rows: Number(rows[0]!.rows), bytes: Number(rows[0]!.bytes) };
    }
    const widths = await client.query<{ b: string | null; rc: string | null }>('select avg(pg_column_size(b.*))::text as b, avg(pg_column_size(b.row_counts))::text as rc from backups b');
    const vwidths = await client.query<{ v: string | null; r: string | null }>('select avg(pg_column_size(v.*))::text as v, avg(pg_column_size(v.report))::text as r from verifications v');
    const num = (v: string | null | undefined) => (v === null || v === undefined ? null : Math.round(Number(v)));
    return {
      sizeBytes: Number(size.rows[0]!.n), tables,
      avgBackupRowBytes: num(widths.rows[0]?.b), avgRowCountsBytes: num(widths.rows[0]?.rc),
      avgVerificationRowBytes: num(vwidths.rows[0]?.v), avgVerificationReportBytes: num(vwidths.rows[0]?.r),
    };
  } finally {
    await client.end();
  }
}

const tableDelta = (a: CatalogStats, b: CatalogStats, names: string[]) => {
  const rows = names.reduce((s, t) => s + (b.tables[t]?.rows ?? 0) - (a.tables[t]?.rows ?? 0), 0);
  const bytes = names.reduce((s, t) => s + (b.tables[t]?.bytes ?? 0) - (a.tables[t]?.bytes ?? 0), 0);
  return { rows, bytes };
};

// ---------------------------------------------------------------------------------------------
// The databases: a template with one small table, copied N times

const dbName = (i: number) => `scale_${String(i + 1).padStart(5, '0')}`;

async function createDatabases(platform: Platform, count: number, rows: number): Promise<{ seconds: number; templateBytes: number }> {
  const started = performance.now();
  const admin = await connect('scale', platform.cluster.target('postgres'));
  await admin.query('create database scale_template');
  const template = await connect('scale', platform.cluster.target('scale_template'));
  await template.query(`create table accounts (id integer primary key, owner text not null, balance numeric(12, 2) not null, opened_at timestamptz not null)`);
  await template.query(
    `insert into accounts select g, 'owner ' || g, (g * 37 % 100000) / 100.0, timestamptz '2026-01-01' + g * interval '1 hour' from generate_series(1, $1) g`,
    [rows],
  );
  await template.query('vacuum analyze accounts');
  const templateBytes = Number((await template.query<{ n: string }>('select pg_database_size(current_database())::text as n')).rows[0]!.n);
  await template.end();
  // FILE_COPY copies the template's files instead of writing them all to WAL: faster here.
  const strategy = platform.cluster.major >= 15 ? ' strategy = file_copy' : '';
  const admins = [admin, ...(await Promise.all([1, 2, 3].map(() => connect('scale', platform.cluster.target('postgres')))))];
  const free = [...admins];
  await forEachLimit(Array.from({ length: count }, (_, i) => dbName(i)), admins.length, async (name) => {
    const client = free.pop()!;
    try {
      await client.query(`create database ${quoteIdent(name)} template scale_template${strategy}`);
    } finally {
      free.push(client);
    }
  });
  await Promise.all(admins.map((c) => c.end()));
  return { seconds: (performance.now() - started) / 1000, templateBytes };
}

/** A daily cron at the minute of `at` in `timeZone`: it fires once in a phase, never again in a run. */
function dailyCronAt(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const field = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return `${field('minute')} ${field('hour')} * * *`;
}

/** Registers every database the way an operator would, parked on a slot that will not come during the run. */
async function registerDatabases(platform: Platform, count: number, healthIntervalSeconds: number, timeZone: string): Promise<{ seconds: number; perDatabaseMs: number }> {
  const parked = dailyCronAt(new Date(Date.now() + 12 * 3600_000), timeZone);
  const started = performance.now();
  let done = 0;
  await forEachLimit(Array.from({ length: count }, (_, i) => dbName(i)), 8, async (name) => {
    await platform.ops.addDatabase({ name, url: targetUrl(platform.cluster.target(name)), schedule: parked, timezone: timeZone, verifyAfterBackup: false });
    await platform.runtime.catalog.updateDatabaseSettings(name, { healthIntervalSeconds });
    if (++done % 250 === 0) log(`  registered ${done}/${count}`);
  });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, perDatabaseMs: (seconds * 1000) / count };
}

async function countQuery(platform: Platform, sql: string, params: unknown[] = []): Promise<number> {
  const client = await connect('catalog', platform.cluster.target('catalog'));
  try {
    return Number((await client.query<{ n: string }>(sql, params)).rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** How far the health monitors' histories and a backup's have grown: what Temporal stores per run. */
async function historySample(platform: Platform, workflowIds: string[]) {
  const out: Array<{ workflowId: string; events: number; bytes: number | null }> = [];
  for (const workflowId of workflowIds) {
    try {
      const d = await platform.env.client.workflow.getHandle(workflowId).describe();
      out.push({ workflowId, events: d.historyLength, bytes: d.historySize ?? null });
    } catch {
      // not there (a phase that did not run it)
    }
  }
  return out;
}

interface TimeStamp { seconds?: unknown; nanos?: number | null }
const stampMs = (ts: TimeStamp | null | undefined): number => (ts ? Number(String(ts.seconds ?? 0)) * 1000 + (ts.nanos ?? 0) / 1e6 : NaN);

/** Where one backup's time went, from its Temporal history: task queues (waiting for a worker slot) and work. */
interface Breakdown {
  workflowTasks: number;
  workflowTaskQueueSeconds: number;
  workflowTaskRunSeconds: number;
  firstWorkflowTaskQueueSeconds: number;
  activities: number;
  activityQueueSeconds: number;
  activityRunSeconds: number;
  firstActivityQueueSeconds: number;
  dumpQueueSeconds: number | null;
  dumpRunSeconds: number | null;
  retries: number;
}

async function historyBreakdown(platform: Platform, workflowId: string): Promise<Breakdown | null> {
  const history = await platform.env.client.workflow.getHandle(workflowId).fetchHistory().catch(() => null);
  if (!history?.events) return null;
  const byId = new Map<string, { kind: 'wft' | 'activity'; name: string; scheduled: number; started?: number; ended?: number; attempt?: number }>();
  for (const e of history.events) {
    const at = stampMs(e.eventTime);
    if (e.workflowTaskScheduledEventAttributes) byId.set(String(e.eventId), { kind: 'wft', name: 'wft', scheduled: at });
    else if (e.activityTaskScheduledEventAttributes) byId.set(String(e.eventId), { kind: 'activity', name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', scheduled: at });
    const started = e.workflowTaskStartedEventAttributes ?? e.activityTaskStartedEventAttributes;
    if (started) {
      const task = byId.get(String(started.scheduledEventId));
      if (task) {
        task.started = at;
        task.attempt = e.activityTaskStartedEventAttributes?.attempt ?? 1;
      }
    }
    const ended = e.workflowTaskCompletedEventAttributes ?? e.workflowTaskFailedEventAttributes ?? e.workflowTaskTimedOutEventAttributes
      ?? e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (ended) {
      const task = byId.get(String(ended.scheduledEventId));
      if (task) task.ended = at;
    }
  }
  const tasks = [...byId.values()].filter((t) => t.started !== undefined && t.ended !== undefined);
  const wfts = tasks.filter((t) => t.kind === 'wft');
  const acts = tasks.filter((t) => t.kind === 'activity');
  const sum = (list: typeof tasks, pick: (t: (typeof tasks)[number]) => number) => list.reduce((s, t) => s + pick(t), 0) / 1000;
  const dump = acts.find((t) => t.name === 'dumpDatabaseToStorage');
  return {
    workflowTasks: wfts.length,
    workflowTaskQueueSeconds: sum(wfts, (t) => t.started! - t.scheduled),
    workflowTaskRunSeconds: sum(wfts, (t) => t.ended! - t.started!),
    firstWorkflowTaskQueueSeconds: wfts.length ? (wfts[0]!.started! - wfts[0]!.scheduled) / 1000 : NaN,
    activities: acts.length,
    // A retried activity's started event carries its last attempt only: the queue time includes the backoff.
    activityQueueSeconds: sum(acts, (t) => t.started! - t.scheduled),
    activityRunSeconds: sum(acts, (t) => t.ended! - t.started!),
    firstActivityQueueSeconds: acts.length ? (acts[0]!.started! - acts[0]!.scheduled) / 1000 : NaN,
    dumpQueueSeconds: dump ? (dump.started! - dump.scheduled) / 1000 : null,
    dumpRunSeconds: dump ? (dump.ended! - dump.started!) / 1000 : null,
    retries: acts.reduce((s, t) => s + Math.max(0, (t.attempt ?? 1) - 1), 0),
  };
}

/**
 * Health monitors probing at their interval, nothing else running: CPU per probe. The probes are
 * counted in a sample of the monitors' histories (probeHealth activities scheduled in the window).
 */
async function measureSteadyHealth(platform: Platform, settings: Settings, groups: CpuGroups) {
  const a = cpuSnapshot();
  await sleep(settings.healthSteadyMinutes * 60_000);
  const b = cpuSnapshot();
  const sampleIds = Array.from({ length: Math.min(50, settings.databases) }, (_, k) => `health/${dbName(Math.floor((k * settings.databases) / Math.min(50, settings.databases)))}`);
  let probes = 0;
  let events = 0;
  for (const workflowId of sampleIds) {
    const history = await platform.env.client.workflow.getHandle(workflowId).fetchHistory().catch(() => null);
    for (const e of history?.events ?? []) {
      const at = stampMs(e.eventTime);
      if (at < a.at || at > b.at) continue;
      events++;
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'probeHealth') probes++;
    }
  }
  const probesTotal = (probes / sampleIds.length) * settings.databases;
  const cpu = cpuBetween(a, b, groups);
  const perProbe = (v: number) => (probesTotal > 0 ? Math.round(((v * 1000) / probesTotal) * 10) / 10 : null);
  return {
    minutes: settings.healthSteadyMinutes,
    intervalSeconds: settings.healthIntervalSeconds,
    sampledMonitors: sampleIds.length,
    probesPerSecond: Math.round((probesTotal / ((b.at - a.at) / 1000)) * 100) / 100,
    eventsPerProbe: probes > 0 ? Math.round((events / probes) * 10) / 10 : null,
    cpu,
    cpuMsPerProbe: { workers: perProbe(cpu.seconds.workers), temporal: perProbe(cpu.seconds.temporal), postgres: perProbe(cpu.seconds.postgres) },
    workerRssBytes: groups.workers.map((pid) => rssOf(pid)),
  };
}

// ---------------------------------------------------------------------------------------------
// One phase: K worker processes, N fresh schedule slots spread over the window

interface BackupSample {
  database: string;
  workflowId: string;
  backupId: string | null;
  worker: string | null;
  status: string;
  scheduledAt: number;
  workflowStartAt: number | null;
  firstActivityAt: number | null;
  dumpStartAt: number | null;
  closedAt: number | null;
}

interface PhaseContext {
  platform: Platform;
  settings: Settings;
  temporalPid: number | null;
  outPrefix: string;
  live: Set<WorkerProcess>;
  /** Milliseconds one schedule change takes at the harness's concurrency (measured at registration). */
  perUpdateMs: number;
}

const ceilMinute = (ms: number) => Math.ceil(ms / 60_000) * 60_000;
const temporalId = (at: number) => new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function runPhase(ctx: PhaseContext, workerCount: number, index: number, preStarted?: WorkerProcess[]) {
  const { platform, settings } = ctx;
  const total = settings.databases;
  const workers = preStarted ?? await startWorkers(platform, workerCount, `p${index}`, ctx.outPrefix, ctx.live);
  const memory = watchMemory(() => [...workers.map((w) => w.pid), ...(ctx.temporalPid ? [ctx.temporalPid] : [])]);
  const readyRss = workers.map((w) => rssOf(w.pid));
  const temporalRssBefore = ctx.temporalPid ? rssOf(ctx.temporalPid) : null;

  // Fresh slots: database i gets the daily minute t0 + floor(i·W/N), all set before the first comes;
  // a phase shorter than the window takes only the databases of its first minutes.
  const minuteOf = (i: number) => Math.floor((i * settings.windowMinutes) / total);
  const members = Array.from({ length: total }, (_, i) => i).filter((i) => minuteOf(i) < settings.phaseMinutes);
  const n = members.length;
  // Room for the schedule changes, then at least ~25 s of idle baseline before the first slot.
  const leadMs = 30_000 + 1.5 * n * ctx.perUpdateMs;
  const t0 = ceilMinute(Date.now() + leadMs);
  const slotOf = (i: number) => t0 + minuteOf(i) * 60_000;
  const expected = new Map<string, { database: string; scheduledAt: number }>();
  for (const i of members) expected.set(`backup/${dbName(i)}/scheduled-${temporalId(slotOf(i))}`, { database: dbName(i), scheduledAt: slotOf(i) });
  const perMinute = total / settings.windowMinutes;
  log(`phase ${index} (${workerCount} worker${workerCount > 1 ? 's' : ''}): ${n} of ${total} schedules, first slot ${new Date(t0).toISOString().slice(11, 19)}, ` +
    `${perMinute.toFixed(1)} per minute (${Math.round(perMinute * 60)}/h) for ${settings.phaseMinutes} min`);
  const updateStarted = Date.now();
  await forEachLimit(members, 8, async (i) => {
    await platform.ops.setSchedule(dbName(i), dailyCronAt(new Date(slotOf(i)), settings.timezone), settings.timezone);
  });
  const updateSeconds = (Date.now() - updateStarted) / 1000;
  const marginSeconds = (t0 - Date.now()) / 1000;
  log(`  schedules set in ${updateSeconds.toFixed(1)} s, ${marginSeconds.toFixed(1)} s before the first slot`);
  if (marginSeconds < 1) log('  WARNING: the schedule changes ran into the window; early slots may not fire');

  const catalogBefore = await catalogStats(platform);
  // What the platform burns with no backup due (polling, autovacuum over N databases, health
  // probes): the baseline that the phase's CPU per backup is net of.
  const groups: CpuGroups = { workers: workers.map((w) => w.pid), temporal: ctx.temporalPid, postmaster: postmasterPid(platform) };
  await sleep(Math.min(2000, Math.max(0, t0 - Date.now() - 1000)));
  const idleStart = cpuSnapshot();
  await sleep(Math.max(0, t0 - Date.now() - 1000));
  const cpuStart = cpuSnapshot();
  const idle = cpuStart.at - idleStart.at >= 10_000 ? cpuBetween(idleStart, cpuStart, groups) : null;

  // Wait for the window to pass, then for every expected backup to end (or the drain limit).
  const deadline = t0 + (settings.phaseMinutes + settings.drainMinutes) * 60_000;
  const ids = [...expected.keys()];
  let ended = 0;
  let lastReport = 0;
  while (Date.now() < deadline) {
    await sleep(3000);
    ended = await countQuery(platform, `select count(*)::text as n from backups where workflow_id = any($1) and status <> 'running'`, [ids]);
    if (Date.now() - lastReport > 60_000) {
      lastReport = Date.now();
      log(`  ${ended}/${n} backups ended; worker RSS ${workers.map((w) => `${((rssOf(w.pid) ?? 0) / MIB).toFixed(0)}`).join('/')} MiB`);
    }
    if (ended >= n && Date.now() >= t0 + (settings.phaseMinutes - 1) * 60_000) break;
  }

  // The workflows close a moment after their catalog row ends (settle, verification request).
  const samples = new Map<string, BackupSample>();
  for (let attempt = 0; attempt < 20; attempt++) {
    const query = `WorkflowType = 'backupDatabase' AND StartTime >= '${new Date(t0 - 120_000).toISOString()}'`;
    for await (const wf of platform.env.client.workflow.list({ query })) {
      const exp = expected.get(wf.workflowId);
      if (!exp) continue;
      samples.set(wf.workflowId, {
        database: exp.database, workflowId: wf.workflowId, backupId: null, worker: null, status: wf.status.name,
        scheduledAt: exp.scheduledAt, workflowStartAt: wf.startTime.getTime(), firstActivityAt: null, dumpStartAt: null,
        closedAt: wf.closeTime?.getTime() ?? null,
      });
    }
    const open = [...samples.values()].filter((s) => s.closedAt === null).length;
    if (open === 0 && (samples.size >= ended || Date.now() >= deadline)) break;
    await sleep(1000);
  }
  const cpuEnd = cpuSnapshot();
  memory.stop();

  // The first activity (recordBackupStarted) writes the catalog row: its started_at is when a worker took it up.
  const client = await connect('catalog', platform.cluster.target('catalog'));
  try {
    const { rows } = await client.query<{ id: string; workflow_id: string; started_at: Date; status: string }>(
      'select id, workflow_id, started_at, status from backups where workflow_id = any($1)', [ids]);
    for (const row of rows) {
      const exp = expected.get(row.workflow_id)!;
      const sample = samples.get(row.workflow_id) ?? {
        database: exp.database, workflowId: row.workflow_id, backupId: null, worker: null, status: row.status,
        scheduledAt: exp.scheduledAt, workflowStartAt: null, firstActivityAt: null, dumpStartAt: null, closedAt: null,
      };
      sample.backupId = row.id;
      sample.firstActivityAt = row.started_at.getTime();
      for (const w of workers) {
        const at = w.dumpStarts.get(row.id);
        if (at !== undefined) { sample.dumpStartAt = at; sample.worker = w.label; }
      }
      samples.set(row.workflow_id, sample);
    }
  } finally {
    await client.end();
  }
  const breakdowns: Breakdown[] = [];
  await forEachLimit([...samples.values()].filter((x) => x.status === 'COMPLETED'), 8, async (x) => {
    const b = await historyBreakdown(platform, x.workflowId);
    if (b) breakdowns.push(b);
  });
  const catalogAfter = await catalogStats(platform);
  const histories = await historySample(platform, [...samples.values()].filter((s) => s.closedAt !== null).slice(0, 3).map((s) => s.workflowId));
  const workerRss = workers.map((w, i) => ({ worker: w.label, atReadyBytes: readyRss[i] ?? null, peakBytes: memory.of(w.pid)?.peak ?? null, endBytes: memory.of(w.pid)?.last ?? null }));
  const temporalRss = ctx.temporalPid ? memory.of(ctx.temporalPid) : null;
  const cpu = cpuBetween(cpuStart, cpuEnd, groups);
  return {
    workers, samples: [...samples.values()], breakdowns, expected: n, t0, updateSeconds, marginSeconds,
    workerRss, temporalRss: temporalRss ? { beforeBytes: temporalRssBefore, peakBytes: temporalRss.peak, endBytes: temporalRss.last } : null,
    cpu, idle, load: memory.load(), catalogBefore, catalogAfter, histories,
  };
}

function summarizePhase(settings: Settings, workerCount: number, raw: Awaited<ReturnType<typeof runPhase>>) {
  const s = raw.samples;
  const completed = s.filter((x) => x.status === 'COMPLETED');
  const lag = (pick: (x: BackupSample) => number | null) => stats(s.map((x) => (pick(x) === null ? null : (pick(x)! - x.scheduledAt) / 1000)).filter((v): v is number => v !== null));
  const closedTimes = completed.map((x) => x.closedAt).filter((v): v is number => v !== null);
  const firstSlot = Math.min(...s.map((x) => x.scheduledAt));
  const lastClose = closedTimes.length ? Math.max(...closedTimes) : firstSlot;
  const spanMinutes = (lastClose - firstSlot) / 60_000;
  const intervals = completed.filter((x) => x.firstActivityAt !== null && x.closedAt !== null).map((x) => [x.firstActivityAt!, x.closedAt!] as [number, number]);
  const busyMinutes = unionSeconds(intervals) / 60;
  const perWorker = raw.workers.map((w) => {
    const mine = completed.filter((x) => x.worker === w.label).length;
    return { worker: w.label, backups: mine, perMinute: spanMinutes > 0 ? Math.round((mine / spanMinutes) * 10) / 10 : null };
  });
  // Each minute's slot is a burst of N/W backups due at the same second: how long each burst took to drain.
  const bySlot = new Map<number, number[]>();
  for (const x of completed) if (x.closedAt !== null) bySlot.set(x.scheduledAt, [...(bySlot.get(x.scheduledAt) ?? []), x.closedAt]);
  const drains = [...bySlot].map(([slot, closes]) => (Math.max(...closes) - slot) / 1000);
  const firstActivity = lag((x) => x.firstActivityAt);
  const ratePerHour = (settings.databases / settings.windowMinutes) * 60;
  return {
    workers: workerCount,
    phaseMinutes: settings.phaseMinutes,
    offered: { perMinute: Math.round((settings.databases / settings.windowMinutes) * 10) / 10, perHour: Math.round(ratePerHour), timesTarget: Math.round((ratePerHour / TARGET_PER_HOUR) * 100) / 100, burstSize: Math.ceil(settings.databases / settings.windowMinutes) },
    expected: raw.expected,
    started: s.filter((x) => x.workflowStartAt !== null).length,
    completed: completed.length,
    notCompleted: s.filter((x) => x.status !== 'COMPLETED').map((x) => ({ workflowId: x.workflowId, status: x.status })).slice(0, 20),
    neverStarted: raw.expected - s.length,
    lagSeconds: {
      workflowStart: lag((x) => x.workflowStartAt),
      firstActivity,
      dumpStart: lag((x) => x.dumpStartAt),
      completed: lag((x) => x.closedAt),
    },
    /** Per backup, summed over its workflow tasks and activities: waiting in a task queue vs being worked on. */
    breakdownSeconds: {
      firstWorkflowTaskQueue: stats(raw.breakdowns.map((b) => b.firstWorkflowTaskQueueSeconds)),
      firstActivityQueue: stats(raw.breakdowns.map((b) => b.firstActivityQueueSeconds)),
      workflowTaskQueue: stats(raw.breakdowns.map((b) => b.workflowTaskQueueSeconds)),
      workflowTaskRun: stats(raw.breakdowns.map((b) => b.workflowTaskRunSeconds)),
      activityQueue: stats(raw.breakdowns.map((b) => b.activityQueueSeconds)),
      activityRun: stats(raw.breakdowns.map((b) => b.activityRunSeconds)),
      dumpQueue: stats(raw.breakdowns.flatMap((b) => (b.dumpQueueSeconds === null ? [] : [b.dumpQueueSeconds]))),
      dumpRun: stats(raw.breakdowns.flatMap((b) => (b.dumpRunSeconds === null ? [] : [b.dumpRunSeconds]))),
      workflowTasksPerBackup: stats(raw.breakdowns.map((b) => b.workflowTasks)).p50,
      activitiesPerBackup: stats(raw.breakdowns.map((b) => b.activities)).p50,
      retries: raw.breakdowns.reduce((s, b) => s + b.retries, 0),
    },
    serviceSeconds: stats(completed.filter((x) => x.firstActivityAt !== null && x.closedAt !== null).map((x) => (x.closedAt! - x.firstActivityAt!) / 1000)),
    throughput: {
      spanMinutes: Math.round(spanMinutes * 100) / 100,
      completedPerMinute: spanMinutes > 0 ? Math.round((completed.length / spanMinutes) * 10) / 10 : null,
      perWorker,
      busyMinutes: Math.round(busyMinutes * 100) / 100,
      /** Backups per minute while at least one was in flight: the rate the workers sustain when loaded. */
      whileBusyPerMinute: busyMinutes > 0 ? Math.round((completed.length / busyMinutes) * 10) / 10 : null,
      peakCompletionsIn60s: peakInWindow(closedTimes, 60_000),
    },
    burstDrainSeconds: stats(drains),
    target: {
      p99FirstActivitySeconds: TARGET_P99_SECONDS,
      met: firstActivity.p99 !== null && firstActivity.p99 <= TARGET_P99_SECONDS && completed.length === raw.expected,
      atRatePerHour: Math.round(ratePerHour),
    },
    scheduleUpdate: { seconds: Math.round(raw.updateSeconds * 10) / 10, marginSeconds: Math.round(raw.marginSeconds * 10) / 10 },
    rss: { workers: raw.workerRss, temporal: raw.temporalRss },
    cpu: raw.cpu,
    cpuMsPerBackup: completed.length ? {
      workers: Math.round((raw.cpu.seconds.workers * 1000) / completed.length),
      temporal: Math.round((raw.cpu.seconds.temporal * 1000) / completed.length),
      postgres: Math.round((raw.cpu.seconds.postgres * 1000) / completed.length),
    } : null,
    /** CPU per second before the first slot, and per backup once that baseline is taken out. */
    idleCpuPerSecond: raw.idle ? {
      wallSeconds: raw.idle.wallSeconds,
      workers: Math.round((raw.idle.seconds.workers / raw.idle.wallSeconds) * 1000) / 1000,
      temporal: Math.round((raw.idle.seconds.temporal / raw.idle.wallSeconds) * 1000) / 1000,
      postgres: Math.round((raw.idle.seconds.postgres / raw.idle.wallSeconds) * 1000) / 1000,
    } : null,
    netCpuMsPerBackup: raw.idle && completed.length ? {
      workers: Math.round(((raw.cpu.seconds.workers - (raw.idle.seconds.workers / raw.idle.wallSeconds) * raw.cpu.wallSeconds) * 1000) / completed.length),
      temporal: Math.round(((raw.cpu.seconds.temporal - (raw.idle.seconds.temporal / raw.idle.wallSeconds) * raw.cpu.wallSeconds) * 1000) / completed.length),
      postgres: Math.round(((raw.cpu.seconds.postgres - (raw.idle.seconds.postgres / raw.idle.wallSeconds) * raw.cpu.wallSeconds) * 1000) / completed.length),
    } : null,
    load1m: raw.load,
    catalog: {
      beforeBytes: raw.catalogBefore.sizeBytes,
      afterBytes: raw.catalogAfter.sizeBytes,
      backupRows: tableDelta(raw.catalogBefore, raw.catalogAfter, ['backups', 'backup_copies']),
      avgBackupRowBytes: raw.catalogAfter.avgBackupRowBytes,
      avgRowCountsBytes: raw.catalogAfter.avgRowCountsBytes,
    },
    histories: raw.histories,
  };
}

type PhaseSummary = ReturnType<typeof summarizePhase>;

// ---------------------------------------------------------------------------------------------
// Reporting

const fmtMib = (n: number | null | undefined) => (n === null || n === undefined ? '?' : `${(n / MIB).toFixed(0)} MiB`);
const fmtS = (v: number | null) => (v === null ? '?' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const fmtLag = (x: Stats) => `${fmtS(x.p50)} / ${fmtS(x.p99)} / ${fmtS(x.max)} s`;

function printTable(phases: PhaseSummary[]): void {
  const rows: Array<[string, ...string[]]> = [
    ['', ...phases.map((p) => `${p.workers} worker${p.workers > 1 ? 's' : ''}`)],
    ['offered rate', ...phases.map((p) => `${p.offered.perMinute}/min = ${p.offered.perHour}/h (${p.offered.timesTarget}x target)`)],
    ['phase', ...phases.map((p) => `${p.expected} backups in ${p.phaseMinutes} min`)],
    ['completed / expected', ...phases.map((p) => `${p.completed} / ${p.expected}`)],
    ['lag → workflow start  p50/p99/max', ...phases.map((p) => fmtLag(p.lagSeconds.workflowStart))],
    ['lag → first activity  p50/p99/max', ...phases.map((p) => fmtLag(p.lagSeconds.firstActivity))],
    ['lag → dump start      p50/p99/max', ...phases.map((p) => fmtLag(p.lagSeconds.dumpStart))],
    ['lag → backup done     p50/p99/max', ...phases.map((p) => fmtLag(p.lagSeconds.completed))],
    ['first workflow task queued p50/p99', ...phases.map((p) => `${fmtS(p.breakdownSeconds.firstWorkflowTaskQueue.p50)} / ${fmtS(p.breakdownSeconds.firstWorkflowTaskQueue.p99)} s`)],
    ['first activity queued p50/p99', ...phases.map((p) => `${fmtS(p.breakdownSeconds.firstActivityQueue.p50)} / ${fmtS(p.breakdownSeconds.firstActivityQueue.p99)} s`)],
    ['per backup: activities queued / running p50', ...phases.map((p) => `${fmtS(p.breakdownSeconds.activityQueue.p50)} / ${fmtS(p.breakdownSeconds.activityRun.p50)} s`)],
    ['per backup: dump queued / running p50', ...phases.map((p) => `${fmtS(p.breakdownSeconds.dumpQueue.p50)} / ${fmtS(p.breakdownSeconds.dumpRun.p50)} s`)],
    ['one backup, first activity → done p50/p99', ...phases.map((p) => `${fmtS(p.serviceSeconds.p50)} / ${fmtS(p.serviceSeconds.p99)} s`)],
    [`p99 first activity ≤ ${TARGET_P99_SECONDS} s`, ...phases.map((p) => (p.target.met ? 'met' : 'MISSED'))],
    ['completed per minute (phase span)', ...phases.map((p) => `${p.throughput.completedPerMinute} over ${p.throughput.spanMinutes} min`)],
    ['  per worker', ...phases.map((p) => p.throughput.perWorker.map((w) => `${w.perMinute}`).join(' + '))],
    ['completed per busy minute', ...phases.map((p) => `${p.throughput.whileBusyPerMinute} (busy ${p.throughput.busyMinutes} min)`)],
    ['most completions in 60 s', ...phases.map((p) => `${p.throughput.peakCompletionsIn60s}`)],
    ['burst drain p50/max', ...phases.map((p) => `${fmtS(p.burstDrainSeconds.p50)} / ${fmtS(p.burstDrainSeconds.max)} s`)],
    ['worker RSS ready → peak → end', ...phases.map((p) => p.rss.workers.map((w) => `${fmtMib(w.atReadyBytes)}→${fmtMib(w.peakBytes)}→${fmtMib(w.endBytes)}`).join(', '))],
    ['Temporal RSS peak / end', ...phases.map((p) => `${fmtMib(p.rss.temporal?.peakBytes)} / ${fmtMib(p.rss.temporal?.endBytes)}`)],
    ['catalog size before → after', ...phases.map((p) => `${fmtMib(p.catalog.beforeBytes)} → ${fmtMib(p.catalog.afterBytes)}`)],
    ['CPU s: workers/Temporal/PG/other', ...phases.map((p) => `${p.cpu.seconds.workers}/${p.cpu.seconds.temporal}/${p.cpu.seconds.postgres}/${p.cpu.seconds.other}`)],
    ['CPU ms per backup: workers/Temporal/PG', ...phases.map((p) => (p.cpuMsPerBackup ? `${p.cpuMsPerBackup.workers}/${p.cpuMsPerBackup.temporal}/${p.cpuMsPerBackup.postgres}` : '?'))],
    ['  net of the idle baseline', ...phases.map((p) => (p.netCpuMsPerBackup ? `${p.netCpuMsPerBackup.workers}/${p.netCpuMsPerBackup.temporal}/${p.netCpuMsPerBackup.postgres}` : '?'))],
    ['machine busy, load avg mean/max', ...phases.map((p) => `${p.cpu.machineBusyPercent}%, ${p.load1m.mean}/${p.load1m.max}`)],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  console.log('');
  for (const row of rows) console.log(`  ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ')}`);
  console.log('');
}

// ---------------------------------------------------------------------------------------------

interface Settings {
  databases: number;
  windowMinutes: number;
  workers: number[];
  rows: number;
  timezone: string;
  healthIntervalSeconds: number;
  verifySample: number;
  drainMinutes: number;
  phaseMinutes: number;
  healthSteadyMinutes: number;
}

/** A few restore verifications, one at a time: what one costs, and what its catalog row weighs. */
async function verifySample(platform: Platform, count: number, outPrefix: string, live: Set<WorkerProcess>, temporalPid: number | null) {
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
        runs.push({ database, status: summary.status, seconds: (performance.now() - started) / 1000, reason: summary.reason ?? null });
      } catch (error) {
        runs.push({ database, status: 'error', seconds: (performance.now() - started) / 1000, reason: error instanceof Error ? error.message : String(error) });
      }
      log(`  verification of ${database}: ${runs.at(-1)!.status} in ${runs.at(-1)!.seconds.toFixed(1)} s${runs.at(-1)!.reason ? ` (${runs.at(-1)!.reason})` : ''}`);
    }
    // The throwaway servers are daemons (pg_ctl), not the worker's children: they count under "other".
    cpu = cpuBetween(cpuStart, cpuSnapshot(), { workers: [worker!.pid], temporal: temporalPid, postmaster: postmasterPid(platform) });
  } finally {
    await stopWorkers([worker!], live);
  }
  const after = await catalogStats(platform);
  const rows = tableDelta(before, after, ['verifications']);
  const machineCpuSeconds = cpu ? cpu.seconds.workers + cpu.seconds.temporal + cpu.seconds.postgres + cpu.seconds.other : null;
  return {
    runs, secondsEach: stats(runs.map((r) => r.seconds)), cpu,
    machineCpuSecondsEach: machineCpuSeconds === null ? null : Math.round((machineCpuSeconds / count) * 100) / 100,
    rows: rows.rows, bytes: rows.bytes, avgRowBytes: after.avgVerificationRowBytes, avgReportBytes: after.avgVerificationReportBytes };
}

async function main(): Promise<void> {
  const settings: Settings = {
    databases: envInt('SCALE_DATABASES', 1000),
    windowMinutes: envInt('SCALE_WINDOW_MINUTES', 10),
    workers: envWorkers(),
    rows: envInt('SCALE_ROWS', 300),
    timezone: envTimezone(),
    healthIntervalSeconds: envInt('SCALE_HEALTH_INTERVAL_SECONDS', 3600),
    verifySample: envInt('SCALE_VERIFY_SAMPLE', 3, 0),
    drainMinutes: envInt('SCALE_DRAIN_MINUTES', 10),
    phaseMinutes: 0,
    healthSteadyMinutes: envInt('SCALE_HEALTH_STEADY_MINUTES', 0, 0),
  };
  settings.phaseMinutes = Math.min(envInt('SCALE_PHASE_MINUTES', settings.windowMinutes), settings.windowMinutes);
  if (settings.windowMinutes > 1440) throw new Error('SCALE_WINDOW_MINUTES must be at most 1440 (the schedules are daily)');
  const outDir = fileURLToPath(new URL('./out/', import.meta.url));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outPrefix = `${outDir}scale-${stamp}`;
  await mkdir(outDir, { recursive: true });
  const runStarted = Date.now();

  let platform: Platform | undefined;
  const live = new Set<WorkerProcess>();
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= (async () => {
    await Promise.all([...live].map((w) => stopWorkerProcess(w).catch(() => undefined)));
    await platform?.stop().catch(() => undefined);
  })());
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    log(`settings: ${JSON.stringify(settings)}`);
    log('starting the platform (PostgreSQL, Temporal dev server, catalog)');
    platform = await startPlatform();
    const temporalPid = findTemporalPid(platform.config.temporalAddress.split(':').pop()!);
    const temporalRssAtStart = temporalPid ? rssOf(temporalPid) : null;
    const catalogEmpty = await catalogStats(platform);

    log(`creating ${settings.databases} databases of ${settings.rows} rows from a template`);
    const created = await createDatabases(platform, settings.databases, settings.rows);
    log(`  ${created.seconds.toFixed(1)} s (${((created.seconds * 1000) / settings.databases).toFixed(0)} ms each, template ${fmtMib(created.templateBytes)} on disk)`);

    log(`registering ${settings.databases} databases (addDatabase: connection test, catalog row, schedule, health monitor)`);
    const registered = await registerDatabases(platform, settings.databases, settings.healthIntervalSeconds, settings.timezone);
    const temporalRssRegistered = temporalPid ? rssOf(temporalPid) : null;
    const catalogRegistered = await catalogStats(platform);
    log(`  ${registered.seconds.toFixed(1)} s (${registered.perDatabaseMs.toFixed(1)} ms each at 8 in flight); Temporal RSS ${fmtMib(temporalRssAtStart)} → ${fmtMib(temporalRssRegistered)}`);

    // The first phase's workers meet N health monitors that have not probed yet: that burst,
    // one first probe per database, is measured on its own before any schedule comes due.
    const ctx: PhaseContext = { platform, settings, temporalPid, outPrefix, live, perUpdateMs: registered.perDatabaseMs };
    const firstWorkers = await startWorkers(platform, settings.workers[0]!, 'p1', outPrefix, live);
    const healthGroups: CpuGroups = { workers: firstWorkers.map((w) => w.pid), temporal: temporalPid, postmaster: postmasterPid(platform) };
    const healthStart = cpuSnapshot();
    const rssBeforeHealth = firstWorkers.map((w) => rssOf(w.pid));
    log(`workers ready (RSS ${rssBeforeHealth.map(fmtMib).join(', ')}); waiting for the first probe of every health monitor`);
    const healthDeadline = Date.now() + 20 * 60_000;
    let probed = 0;
    while (Date.now() < healthDeadline) {
      probed = await countQuery(platform, 'select count(distinct database_id)::text as n from health_events');
      if (probed >= settings.databases) break;
      await sleep(1000);
    }
    const lastProbe = await countQuery(platform, `select (extract(epoch from max(at)) * 1000)::bigint::text as n from health_events`);
    await sleep(3000);
    const healthEnd = cpuSnapshot();
    const healthCpu = cpuBetween(healthStart, healthEnd, healthGroups);
    const health = {
      monitors: settings.databases,
      probed,
      seconds: Math.round((lastProbe - healthStart.at) / 100) / 10,
      cpu: healthCpu,
      cpuMsPerMonitor: {
        workers: Math.round((healthCpu.seconds.workers * 1000) / settings.databases * 10) / 10,
        temporal: Math.round((healthCpu.seconds.temporal * 1000) / settings.databases * 10) / 10,
        postgres: Math.round((healthCpu.seconds.postgres * 1000) / settings.databases * 10) / 10,
      },
      workerRssBeforeBytes: rssBeforeHealth,
      workerRssAfterBytes: firstWorkers.map((w) => rssOf(w.pid)),
      histories: await historySample(platform, [`health/${dbName(0)}`]),
    };
    log(`  ${probed}/${settings.databases} monitors probed in ${health.seconds} s; CPU ms per monitor: worker ${health.cpuMsPerMonitor.workers}, ` +
      `Temporal ${health.cpuMsPerMonitor.temporal}, PostgreSQL ${health.cpuMsPerMonitor.postgres}; worker RSS now ${health.workerRssAfterBytes.map(fmtMib).join(', ')}`);

    let healthSteady: Awaited<ReturnType<typeof measureSteadyHealth>> | null = null;
    if (settings.healthSteadyMinutes > 0) {
      log(`measuring ${settings.healthSteadyMinutes} min of steady health probing, every ${settings.healthIntervalSeconds} s per database`);
      healthSteady = await measureSteadyHealth(platform, settings, healthGroups);
      log(`  ${healthSteady.probesPerSecond} probes/s, ${healthSteady.eventsPerProbe} history events per probe; CPU ms per probe: worker ${healthSteady.cpuMsPerProbe.workers}, ` +
        `Temporal ${healthSteady.cpuMsPerProbe.temporal}, PostgreSQL ${healthSteady.cpuMsPerProbe.postgres}; machine busy ${healthSteady.cpu.machineBusyPercent}%`);
    }

    const phases: PhaseSummary[] = [];
    for (const [i, count] of settings.workers.entries()) {
      const raw = await runPhase(ctx, count, i + 1, i === 0 ? firstWorkers : undefined);
      await stopWorkers(raw.workers, live);
      const summary = summarizePhase(settings, count, raw);
      phases.push(summary);
      await writeFile(`${outPrefix}-phase${i + 1}-backups.json`, `${JSON.stringify(raw.samples)}\n`);
      log(`phase ${i + 1}: ${summary.completed}/${summary.expected} completed; lag to first activity p50 ${fmtS(summary.lagSeconds.firstActivity.p50)} s, ` +
        `p99 ${fmtS(summary.lagSeconds.firstActivity.p99)} s, max ${fmtS(summary.lagSeconds.firstActivity.max)} s`);
    }

    log(`verification sample: ${settings.verifySample}`);
    const verification = await verifySample(platform, settings.verifySample, outPrefix, live, temporalPid);
    const catalogEnd = await catalogStats(platform);
    const temporalRssEnd = temporalPid ? rssOf(temporalPid) : null;

    printTable(phases);
    const results = {
      at: new Date().toISOString(),
      wallMinutes: Math.round((Date.now() - runStarted) / 600) / 100,
      machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? null, memoryBytes: os.totalmem(), node: process.version, postgresMajor: platform.cluster.major },
      settings,
      setup: {
        createDatabases: created,
        register: registered,
        temporalRss: { atStartBytes: temporalRssAtStart, afterRegisterBytes: temporalRssRegistered, atEndBytes: temporalRssEnd },
        catalog: { emptyBytes: catalogEmpty.sizeBytes, registeredBytes: catalogRegistered.sizeBytes, registeredTables: catalogRegistered.tables },
      },
      health,
      healthSteady,
      phases,
      verification,
      catalogEnd,
    };
    const file = `${outPrefix}.json`;
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
    log(`results written to ${file} (run took ${results.wallMinutes} min)`);
  } catch (error) {
    for (const w of live) console.error(`worker ${w.label} log (last lines):\n${w.tail()}`);
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
