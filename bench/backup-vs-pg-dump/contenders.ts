/**
 * The two contenders of bench/backup-vs-pg-dump.ts, each observed through /proc: plain pg_dump with
 * its output counted and thrown away, and a backup by the real worker program in its own process.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { libpqEnv, type PgTarget } from '../../lib/pg/connection.ts';
import type { ToolInfo } from '../../lib/pg/tools.ts';
import type { Platform } from '../../test/support/platform.ts';
import { spawnBenchWorker, stopBenchWorker, type BenchWorker } from '../support/worker-process.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Why a contender is slower shows in its pg_dump: CPU used, and time spent runnable but waiting
// for a CPU (the other half of /proc/<pid>/schedstat), i.e. competing with its consumer.

export interface PgDumpSched {
  cpuSeconds: number;
  cpuWaitSeconds: number;
}

/** Follows the pg_dump children of `parent` until stopped; reports the busiest one. */
function watchPgDump(parent: number): { stop(): PgDumpSched | null } {
  const last = new Map<number, PgDumpSched>();
  const sample = () => {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (!stat.includes('(pg_dump)') || Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== parent)
          continue;
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

export interface DumpRun {
  seconds: number;
  bytes: number;
  pgDump: PgDumpSched | null;
}

export function runPgDump(pgDump: ToolInfo, flag: string, target: PgTarget): Promise<DumpRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const sched = watchPgDump(process.pid);
    const child = spawn(pgDump.path, ['--format=custom', flag, '--no-password'], {
      env: { ...process.env, ...libpqEnv(target) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', (error) => {
      sched.stop();
      reject(error);
    });
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

export interface WorkerProcess extends BenchWorker {
  /** Activity start and end per backup id, from the worker's own log (pino epoch milliseconds). */
  activityTimes: Map<string, { started?: number; completed?: number }>;
}

/**
 * BENCH_WORKER_NODE_OPTIONS adds Node flags to the worker only, to look inside it
 * (e.g. "--trace-gc", or "--cpu-prof --cpu-prof-dir=bench/out"); its whole log goes to `logFile`.
 */
export function startWorkerProcess(platform: Platform, logFile: string): WorkerProcess {
  const activityTimes: WorkerProcess['activityTimes'] = new Map();
  const nodeFlags = (process.env.BENCH_WORKER_NODE_OPTIONS ?? '').split(' ').filter(Boolean);
  const worker = spawnBenchWorker(platform, {
    logFile,
    nodeFlags,
    tailLines: 50,
    onRecord: (record) => {
      if (record.backupId && record.time && (record.msg === 'backup started' || record.msg === 'backup dumped')) {
        const entry = activityTimes.get(record.backupId) ?? {};
        if (record.msg === 'backup started') entry.started = record.time;
        else entry.completed = record.time;
        activityTimes.set(record.backupId, entry);
      }
    },
  });
  return { ...worker, activityTimes };
}

export const stopWorkerProcess = (worker: WorkerProcess | undefined): Promise<void> => stopBenchWorker(worker, 10_000);

const CLOCK_TICKS = 100; // USER_HZ, fixed at 100 on Linux

/** utime + stime of one /proc/.../stat line, and the thread or process name in it. */
function parseStat(stat: string): { name: string; cpuSeconds: number } {
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return {
    name: stat.slice(stat.indexOf('(') + 1, close),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
  };
}

export const rssOf = (pid: number): number =>
  1024 * Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

/** The kernel's view of a process: resident memory, CPU time so far, and that CPU time per thread name. */
export function procStats(pid: number): { rssBytes: number; cpuSeconds: number; threads: Map<string, number> } {
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

export interface HindsightRun {
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

export async function runHindsightBackup(
  platform: Platform,
  worker: WorkerProcess,
  database: string,
): Promise<HindsightRun> {
  const pid = worker.child.pid!;
  const before = procStats(pid);
  let peak = before.rssBytes;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid));
    } catch {
      /* the worker died: the backup reports it */
    }
  }, 50);
  const sched = watchPgDump(pid);
  try {
    const started = performance.now();
    const backup = await platform.ops.startBackup(database);
    const outcome = await backup.result();
    const seconds = (performance.now() - started) / 1000;
    const after = procStats(pid);
    peak = Math.max(peak, after.rssBytes);
    if (outcome.status !== 'complete')
      throw new Error(`backup ${outcome.backupId} ended ${outcome.status}: ${JSON.stringify(outcome.copies)}`);
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
