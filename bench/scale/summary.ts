/** A phase's samples summed up (lags, throughput, memory, CPU, catalog growth) and the table printed at the end. */
import type { Breakdown } from './history.ts';
import { tableDelta } from './catalog.ts';
import type { BackupSample, PhaseRun } from './phase.ts';
import { MIB, TARGET_P99_SECONDS, TARGET_PER_HOUR, type Settings } from './settings.ts';
import { peakInWindow, stats, unionSeconds, type Stats } from './stats.ts';

/** Per backup, summed over its workflow tasks and activities: waiting in a task queue vs being worked on. */
function breakdownSeconds(breakdowns: Breakdown[]) {
  return {
    firstWorkflowTaskQueue: stats(breakdowns.map((b) => b.firstWorkflowTaskQueueSeconds)),
    firstActivityQueue: stats(breakdowns.map((b) => b.firstActivityQueueSeconds)),
    workflowTaskQueue: stats(breakdowns.map((b) => b.workflowTaskQueueSeconds)),
    workflowTaskRun: stats(breakdowns.map((b) => b.workflowTaskRunSeconds)),
    activityQueue: stats(breakdowns.map((b) => b.activityQueueSeconds)),
    activityRun: stats(breakdowns.map((b) => b.activityRunSeconds)),
    dumpQueue: stats(breakdowns.flatMap((b) => (b.dumpQueueSeconds === null ? [] : [b.dumpQueueSeconds]))),
    dumpRun: stats(breakdowns.flatMap((b) => (b.dumpRunSeconds === null ? [] : [b.dumpRunSeconds]))),
    workflowTasksPerBackup: stats(breakdowns.map((b) => b.workflowTasks)).p50,
    activitiesPerBackup: stats(breakdowns.map((b) => b.activities)).p50,
    retries: breakdowns.reduce((s, b) => s + b.retries, 0),
  };
}

/** CPU per backup, the idle baseline per second, and CPU per backup net of that baseline. */
function cpuPerBackup(raw: PhaseRun, completed: number) {
  return {
    cpuMsPerBackup: completed
      ? {
          workers: Math.round((raw.cpu.seconds.workers * 1000) / completed),
          temporal: Math.round((raw.cpu.seconds.temporal * 1000) / completed),
          postgres: Math.round((raw.cpu.seconds.postgres * 1000) / completed),
        }
      : null,
    /** CPU per second before the first slot, and per backup once that baseline is taken out. */
    idleCpuPerSecond: raw.idle
      ? {
          wallSeconds: raw.idle.wallSeconds,
          workers: Math.round((raw.idle.seconds.workers / raw.idle.wallSeconds) * 1000) / 1000,
          temporal: Math.round((raw.idle.seconds.temporal / raw.idle.wallSeconds) * 1000) / 1000,
          postgres: Math.round((raw.idle.seconds.postgres / raw.idle.wallSeconds) * 1000) / 1000,
        }
      : null,
    netCpuMsPerBackup:
      raw.idle && completed
        ? {
            workers: Math.round(
              ((raw.cpu.seconds.workers - (raw.idle.seconds.workers / raw.idle.wallSeconds) * raw.cpu.wallSeconds) *
                1000) /
                completed,
            ),
            temporal: Math.round(
              ((raw.cpu.seconds.temporal - (raw.idle.seconds.temporal / raw.idle.wallSeconds) * raw.cpu.wallSeconds) *
                1000) /
                completed,
            ),
            postgres: Math.round(
              ((raw.cpu.seconds.postgres - (raw.idle.seconds.postgres / raw.idle.wallSeconds) * raw.cpu.wallSeconds) *
                1000) /
                completed,
            ),
          }
        : null,
  };
}

/** Seconds from each backup's slot to the moment `pick` reads, for the backups that got that far. */
function lagStats(samples: BackupSample[], pick: (x: BackupSample) => number | null): Stats {
  return stats(
    samples
      .map((x) => (pick(x) === null ? null : (pick(x)! - x.scheduledAt) / 1000))
      .filter((v): v is number => v !== null),
  );
}

/** The rate the phase offered: every database once per window, one slot per minute spread over its seconds. */
function offeredRate(settings: Settings) {
  const ratePerHour = (settings.databases / settings.windowMinutes) * 60;
  return {
    perMinute: Math.round((settings.databases / settings.windowMinutes) * 10) / 10,
    perHour: Math.round(ratePerHour),
    timesTarget: Math.round((ratePerHour / TARGET_PER_HOUR) * 100) / 100,
    burstSize: Math.ceil(settings.databases / settings.windowMinutes),
  };
}

/** Completions per minute over the phase's span, per worker, and while at least one backup was in flight. */
function throughput(raw: PhaseRun, completed: BackupSample[], closedTimes: number[]) {
  const firstSlot = Math.min(...raw.samples.map((x) => x.scheduledAt));
  const lastClose = closedTimes.length ? Math.max(...closedTimes) : firstSlot;
  const spanMinutes = (lastClose - firstSlot) / 60_000;
  const intervals = completed
    .filter((x) => x.firstActivityAt !== null && x.closedAt !== null)
    .map((x) => [x.firstActivityAt!, x.closedAt!] as [number, number]);
  const busyMinutes = unionSeconds(intervals) / 60;
  const perWorker = raw.workers.map((w) => {
    const mine = completed.filter((x) => x.worker === w.label).length;
    return {
      worker: w.label,
      backups: mine,
      perMinute: spanMinutes > 0 ? Math.round((mine / spanMinutes) * 10) / 10 : null,
    };
  });
  return {
    spanMinutes: Math.round(spanMinutes * 100) / 100,
    completedPerMinute: spanMinutes > 0 ? Math.round((completed.length / spanMinutes) * 10) / 10 : null,
    perWorker,
    busyMinutes: Math.round(busyMinutes * 100) / 100,
    /** Backups per minute while at least one was in flight: the rate the workers sustain when loaded. */
    whileBusyPerMinute: busyMinutes > 0 ? Math.round((completed.length / busyMinutes) * 10) / 10 : null,
    peakCompletionsIn60s: peakInWindow(closedTimes, 60_000),
  };
}

/**
 * Each minute's slot holds N/W backups, each due at its database's second of that minute: how long
 * after the minute began its last one ended.
 */
function burstDrainSeconds(completed: BackupSample[]): number[] {
  const bySlot = new Map<number, number[]>();
  for (const x of completed) {
    const minute = Math.floor(x.scheduledAt / 60_000) * 60_000;
    if (x.closedAt !== null) bySlot.set(minute, [...(bySlot.get(minute) ?? []), x.closedAt]);
  }
  return [...bySlot].map(([slot, closes]) => (Math.max(...closes) - slot) / 1000);
}

export function summarizePhase(settings: Settings, workerCount: number, raw: PhaseRun) {
  const s = raw.samples;
  const completed = s.filter((x) => x.status === 'COMPLETED');
  const lag = (pick: (x: BackupSample) => number | null) => lagStats(s, pick);
  const closedTimes = completed.map((x) => x.closedAt).filter((v): v is number => v !== null);
  const firstActivity = lag((x) => x.firstActivityAt);
  const ratePerHour = (settings.databases / settings.windowMinutes) * 60;
  return {
    workers: workerCount,
    phaseMinutes: settings.phaseMinutes,
    offered: offeredRate(settings),
    expected: raw.expected,
    started: s.filter((x) => x.workflowStartAt !== null).length,
    completed: completed.length,
    notCompleted: s
      .filter((x) => x.status !== 'COMPLETED')
      .map((x) => ({ workflowId: x.workflowId, status: x.status }))
      .slice(0, 20),
    neverStarted: raw.expected - s.length,
    lagSeconds: {
      workflowStart: lag((x) => x.workflowStartAt),
      firstActivity,
      dumpStart: lag((x) => x.dumpStartAt),
      completed: lag((x) => x.closedAt),
    },
    breakdownSeconds: breakdownSeconds(raw.breakdowns),
    serviceSeconds: stats(
      completed
        .filter((x) => x.firstActivityAt !== null && x.closedAt !== null)
        .map((x) => (x.closedAt! - x.firstActivityAt!) / 1000),
    ),
    throughput: throughput(raw, completed, closedTimes),
    burstDrainSeconds: stats(burstDrainSeconds(completed)),
    target: {
      p99FirstActivitySeconds: TARGET_P99_SECONDS,
      met: firstActivity.p99 !== null && firstActivity.p99 <= TARGET_P99_SECONDS && completed.length === raw.expected,
      atRatePerHour: Math.round(ratePerHour),
    },
    scheduleUpdate: {
      seconds: Math.round(raw.updateSeconds * 10) / 10,
      marginSeconds: Math.round(raw.marginSeconds * 10) / 10,
    },
    rss: { workers: raw.workerRss, temporal: raw.temporalRss },
    cpu: raw.cpu,
    ...cpuPerBackup(raw, completed.length),
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

export type PhaseSummary = ReturnType<typeof summarizePhase>;

// ---------------------------------------------------------------------------------------------
// Reporting

export const fmtMib = (n: number | null | undefined) =>
  n === null || n === undefined ? '?' : `${(n / MIB).toFixed(0)} MiB`;
export const fmtS = (v: number | null) => (v === null ? '?' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const fmtLag = (x: Stats) => `${fmtS(x.p50)} / ${fmtS(x.p99)} / ${fmtS(x.max)} s`;

type Row = [string, ...string[]];

/** What each phase offered and how late its backups started and finished. */
function loadAndLagRows(phases: PhaseSummary[]): Row[] {
  return [
    [
      'offered rate',
      ...phases.map((p) => `${p.offered.perMinute}/min = ${p.offered.perHour}/h (${p.offered.timesTarget}x target)`),
    ],
    ['phase', ...phases.map((p) => `${p.expected} backups in ${p.phaseMinutes} min`)],
    ['completed / expected', ...phases.map((p) => `${p.completed} / ${p.expected}`)],
    ['lag → workflow start  p50/p99/max', ...phases.map((p) => fmtLag(p.lagSeconds.workflowStart))],
    ['lag → first activity  p50/p99/max', ...phases.map((p) => fmtLag(p.lagSeconds.firstActivity))],
    ['lag → dump start      p50/p99/max', ...phases.map((p) => fmtLag(p.lagSeconds.dumpStart))],
    ['lag → backup done     p50/p99/max', ...phases.map((p) => fmtLag(p.lagSeconds.completed))],
  ];
}

/** Where a backup's time went: waiting in task queues or being worked on. */
function queueRows(phases: PhaseSummary[]): Row[] {
  return [
    [
      'first workflow task queued p50/p99',
      ...phases.map(
        (p) =>
          `${fmtS(p.breakdownSeconds.firstWorkflowTaskQueue.p50)} / ${fmtS(p.breakdownSeconds.firstWorkflowTaskQueue.p99)} s`,
      ),
    ],
    [
      'first activity queued p50/p99',
      ...phases.map(
        (p) =>
          `${fmtS(p.breakdownSeconds.firstActivityQueue.p50)} / ${fmtS(p.breakdownSeconds.firstActivityQueue.p99)} s`,
      ),
    ],
    [
      'per backup: activities queued / running p50',
      ...phases.map(
        (p) => `${fmtS(p.breakdownSeconds.activityQueue.p50)} / ${fmtS(p.breakdownSeconds.activityRun.p50)} s`,
      ),
    ],
    [
      'per backup: dump queued / running p50',
      ...phases.map((p) => `${fmtS(p.breakdownSeconds.dumpQueue.p50)} / ${fmtS(p.breakdownSeconds.dumpRun.p50)} s`),
    ],
    [
      'one backup, first activity → done p50/p99',
      ...phases.map((p) => `${fmtS(p.serviceSeconds.p50)} / ${fmtS(p.serviceSeconds.p99)} s`),
    ],
  ];
}

/** The target, and how many backups the workers completed per minute. */
function throughputRows(phases: PhaseSummary[]): Row[] {
  return [
    [`p99 first activity ≤ ${TARGET_P99_SECONDS} s`, ...phases.map((p) => (p.target.met ? 'met' : 'MISSED'))],
    [
      'completed per minute (phase span)',
      ...phases.map((p) => `${p.throughput.completedPerMinute} over ${p.throughput.spanMinutes} min`),
    ],
    ['  per worker', ...phases.map((p) => p.throughput.perWorker.map((w) => `${w.perMinute}`).join(' + '))],
    [
      'completed per busy minute',
      ...phases.map((p) => `${p.throughput.whileBusyPerMinute} (busy ${p.throughput.busyMinutes} min)`),
    ],
    ['most completions in 60 s', ...phases.map((p) => `${p.throughput.peakCompletionsIn60s}`)],
    [
      'burst drain p50/max',
      ...phases.map((p) => `${fmtS(p.burstDrainSeconds.p50)} / ${fmtS(p.burstDrainSeconds.max)} s`),
    ],
  ];
}

/** Memory, catalog growth and CPU. */
function resourceRows(phases: PhaseSummary[]): Row[] {
  return [
    [
      'worker RSS ready → peak → end',
      ...phases.map((p) =>
        p.rss.workers.map((w) => `${fmtMib(w.atReadyBytes)}→${fmtMib(w.peakBytes)}→${fmtMib(w.endBytes)}`).join(', '),
      ),
    ],
    [
      'Temporal RSS peak / end',
      ...phases.map((p) => `${fmtMib(p.rss.temporal?.peakBytes)} / ${fmtMib(p.rss.temporal?.endBytes)}`),
    ],
    [
      'catalog size before → after',
      ...phases.map((p) => `${fmtMib(p.catalog.beforeBytes)} → ${fmtMib(p.catalog.afterBytes)}`),
    ],
    [
      'CPU s: workers/Temporal/PG/other',
      ...phases.map(
        (p) => `${p.cpu.seconds.workers}/${p.cpu.seconds.temporal}/${p.cpu.seconds.postgres}/${p.cpu.seconds.other}`,
      ),
    ],
    [
      'CPU ms per backup: workers/Temporal/PG',
      ...phases.map((p) =>
        p.cpuMsPerBackup
          ? `${p.cpuMsPerBackup.workers}/${p.cpuMsPerBackup.temporal}/${p.cpuMsPerBackup.postgres}`
          : '?',
      ),
    ],
    [
      '  net of the idle baseline',
      ...phases.map((p) =>
        p.netCpuMsPerBackup
          ? `${p.netCpuMsPerBackup.workers}/${p.netCpuMsPerBackup.temporal}/${p.netCpuMsPerBackup.postgres}`
          : '?',
      ),
    ],
    [
      'machine busy, load avg mean/max',
      ...phases.map((p) => `${p.cpu.machineBusyPercent}%, ${p.load1m.mean}/${p.load1m.max}`),
    ],
  ];
}

export function printTable(phases: PhaseSummary[]): void {
  const rows: Row[] = [
    ['', ...phases.map((p) => `${p.workers} worker${p.workers > 1 ? 's' : ''}`)],
    ...loadAndLagRows(phases),
    ...queueRows(phases),
    ...throughputRows(phases),
    ...resourceRows(phases),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  console.log('');
  for (const row of rows)
    console.log(
      `  ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ')}`,
    );
  console.log('');
}
