/**
 * The kernel's view, read from /proc: resident memory and CPU time of the platform's processes
 * (workers, Temporal, PostgreSQL, the harness) and of everything else on the machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Platform } from '../../test/support/platform.ts';

const CLOCK_TICKS = 100; // USER_HZ, fixed at 100 on Linux

export const rssOf = (pid: number): number | null => {
  try {
    return 1024 * Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return null;
  }
};

export interface ProcEntry {
  ppid: number;
  command: string;
  cpuSeconds: number;
  selfCpuSeconds: number;
}
export interface CpuSnapshot {
  at: number;
  machineBusy: number;
  machineTotal: number;
  procs: Map<number, ProcEntry>;
}

/** utime + stime of the process and of its children it has reaped (pg_dump, for a worker). */
export function readProc(pid: number): ProcEntry | null {
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
    return {
      ppid: Number(fields[1]),
      command,
      cpuSeconds: ticks / CLOCK_TICKS,
      selfCpuSeconds: selfTicks / CLOCK_TICKS,
    };
  } catch {
    return null;
  }
}

export function cpuSnapshot(): CpuSnapshot {
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
export function subtree(procs: Map<number, ProcEntry>, root: number, stop: Set<number>): number[] {
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

export interface CpuGroups {
  workers: number[];
  temporal: number | null;
  postmaster: number | null;
}

export interface CpuReport {
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
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot, groups: CpuGroups): CpuReport {
  const roots = new Set([...groups.workers, ...(groups.temporal ? [groups.temporal] : [])]);
  const pidsAt = (snap: CpuSnapshot) => ({
    workers: groups.workers.flatMap((pid) => subtree(snap.procs, pid, new Set())),
    temporal: groups.temporal ? subtree(snap.procs, groups.temporal, new Set()) : [],
    postgres: groups.postmaster ? subtree(snap.procs, groups.postmaster, new Set()) : [],
    harness: subtree(snap.procs, process.pid, roots),
  });
  const sum = (snap: CpuSnapshot, pids: number[]) =>
    pids.reduce((s, pid) => s + (snap.procs.get(pid)?.cpuSeconds ?? 0), 0);
  const before = pidsAt(a);
  const after = pidsAt(b);
  const delta = (key: keyof typeof before) => Math.max(0, sum(b, after[key]) - sum(a, before[key]));
  // The harness's reaped children include workers of earlier phases: only its own time counts.
  const harness = Math.max(
    0,
    (b.procs.get(process.pid)?.cpuSeconds ?? 0) - (a.procs.get(process.pid)?.cpuSeconds ?? 0),
  );
  const ours = new Set([...after.workers, ...after.temporal, ...after.postgres, ...after.harness]);
  const seconds = {
    workers: delta('workers'),
    temporal: delta('temporal'),
    postgres: delta('postgres'),
    harness,
    other: 0,
  };
  const machineBusy = b.machineBusy - a.machineBusy;
  seconds.other = Math.max(0, machineBusy - seconds.workers - seconds.temporal - seconds.postgres - seconds.harness);
  const topOther = [...b.procs]
    .filter(([pid]) => !ours.has(pid))
    // Own time only: a foreign parent's reaped-children time jumps when a long job of its ends.
    .map(([pid, p]) => ({
      pid,
      command: p.command,
      cpuSeconds: p.selfCpuSeconds - (a.procs.get(pid)?.selfCpuSeconds ?? 0),
    }))
    .filter((p) => p.cpuSeconds >= 1)
    .sort((x, y) => y.cpuSeconds - x.cpuSeconds)
    .slice(0, 6);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    wallSeconds: round((b.at - a.at) / 1000),
    machineBusyPercent: round((100 * machineBusy) / Math.max(1e-9, b.machineTotal - a.machineTotal)),
    seconds: {
      workers: round(seconds.workers),
      temporal: round(seconds.temporal),
      postgres: round(seconds.postgres),
      harness: round(seconds.harness),
      other: round(seconds.other),
    },
    topOther: topOther.map((p) => ({ ...p, cpuSeconds: round(p.cpuSeconds) })),
  };
}

/** Samples the RSS of the given processes every second; also the 1-minute load average. */
/** Least-squares slope of RSS over time in MiB per minute: whether memory keeps growing or levels off. */
export function rssSlopeMibPerMinute(points: ReadonlyArray<{ at: number; rss: number }>): number | null {
  if (points.length < 10) return null;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.at, 0) / n;
  const mr = points.reduce((s, p) => s + p.rss, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.at - mt) * (p.rss - mr);
    den += (p.at - mt) ** 2;
  }
  return den === 0 ? null : Math.round(((num / den) * 60_000 * 100) / (1024 * 1024)) / 100;
}

export function watchMemory(pids: () => number[]) {
  const seen = new Map<
    number,
    { first: number; peak: number; last: number; points: Array<{ at: number; rss: number }> }
  >();
  const loads: number[] = [];
  const sample = () => {
    const at = Date.now();
    for (const pid of pids()) {
      const rss = rssOf(pid);
      if (rss === null) continue;
      const entry = seen.get(pid);
      if (entry) {
        entry.peak = Math.max(entry.peak, rss);
        entry.last = rss;
        entry.points.push({ at, rss });
      } else seen.set(pid, { first: rss, peak: rss, last: rss, points: [{ at, rss }] });
    }
    loads.push(os.loadavg()[0]!);
  };
  sample();
  const timer = setInterval(sample, 1000);
  return {
    of: (pid: number) => {
      const entry = seen.get(pid);
      return entry
        ? {
            first: entry.first,
            peak: entry.peak,
            last: entry.last,
            slopeMibPerMinute: rssSlopeMibPerMinute(entry.points),
          }
        : null;
    },
    /** RSS every `everySeconds` (MiB), for the results file: the shape of the curve, not only its peak. */
    series: (pid: number, everySeconds = 30) =>
      (seen.get(pid)?.points ?? [])
        .filter((_, i) => i % everySeconds === 0)
        .map((p) => ({ at: new Date(p.at).toISOString(), mib: Math.round(p.rss / (1024 * 1024)) })),
    load: () => ({
      mean: loads.length ? Math.round((loads.reduce((s, v) => s + v, 0) / loads.length) * 100) / 100 : null,
      max: loads.length ? Math.max(...loads) : null,
    }),
    stop() {
      sample();
      clearInterval(timer);
    },
  };
}

/** The Temporal dev server the platform started (a child of this process), found by its port. */
export function findTemporalPid(port: string): number | null {
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

export function postmasterPid(platform: Platform): number | null {
  try {
    return Number(readFileSync(`${platform.cluster.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  } catch {
    return null;
  }
}
