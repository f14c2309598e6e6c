/**
 * The soak's figures, from the catalog, Temporal's schedules, the worker's log and the samples:
 * backups done, failed, retried, lost and duplicated; durations; memory slopes; descriptors; the
 * catalog's size. Written as markdown to bench/results/ and into docs/reliability.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { backupScheduleId } from '../../temporal/contracts/backup.ts';
import { rssSlopeMibPerMinute } from '../support/proc.ts';
import type { LoadCounts, Sample } from './load.ts';
import type { SoakWorld } from './world.ts';

export interface SoakFigures {
  minutes: number;
  databases: number;
  byStatus: Record<string, number>;
  scheduledActions: number;
  lost: number;
  duplicated: number;
  retried: number;
  p50Seconds: number;
  p99Seconds: number;
  /** The worker's memory, each series first → last (MiB) and its slope after the warm-up (MiB/h). */
  worker: Record<'rss' | 'heap' | 'external' | 'arrayBuffers' | 'threads' | 'heapsPhysical' | 'native', Series>;
  webRssMib: [number, number];
  cachedWorkflows: [number, number, number];
  warmupMinutes: number;
  /** The worker's MALLOC_ARENA_MAX, when set: how many malloc arenas glibc may create. */
  mallocArenaMax: string | undefined;
  /** Every few minutes: minute, worker RSS, heaps committed, main heap, external, arrayBuffers, threads' heaps (MiB), cached workflows. */
  curve: Array<[number, number, number, number, number, number, number, number]>;
  webSlopeMibPerHour: number | null;
  fds: { worker: [number, number, number]; web: [number, number, number] };
  catalogMib: [number, number];
  load: LoadCounts;
}

export interface Series {
  mib: [number, number];
  slopeMibPerHour: number | null;
}

const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const mib = (bytes: number) => Math.round(bytes / 1048576);
const round1 = (n: number) => Math.round(n * 10) / 10;

/** Backups per status, durations, and runs whose workflow wrote more than one complete backup. */
async function backupFigures(world: SoakWorld) {
  const pool = world.platform.runtime.catalog.pool;
  const { rows } = await pool.query<{ status: string; n: number }>(
    "select status, count(*)::int as n from backups where trigger = 'schedule' group by status",
  );
  const { rows: durations } = await pool.query<{ s: number }>(
    `select extract(epoch from finished_at - started_at)::float8 as s from backups
      where trigger = 'schedule' and status in ('complete', 'partial') order by 1`,
  );
  const { rows: dup } = await pool.query<{ n: number }>(
    `select count(*)::int as n from (select workflow_id from backups where status in ('complete', 'partial')
      group by workflow_id having count(*) > 1) d`,
  );
  return {
    byStatus: Object.fromEntries(rows.map((r) => [r.status, r.n])),
    durations: durations.map((d) => d.s),
    duplicated: dup[0]!.n,
  };
}

/** Runs Temporal's schedules took, against the backups the catalog has for them. */
async function scheduledActions(world: SoakWorld): Promise<number> {
  let taken = 0;
  for (const name of world.sources.keys()) {
    const description = await world.platform.client.schedule.getHandle(backupScheduleId(name)).describe();
    taken += description.info.numActionsTaken;
  }
  return taken;
}

const slopePerHour = (samples: Sample[], pick: (s: Sample) => number) => {
  const slope = rssSlopeMibPerMinute(samples.map((s) => ({ at: s.at, rss: pick(s) })));
  return slope === null ? null : round1(slope * 60);
};

/** When the load ran: the slopes are taken between the end of the warm-up and the end of the load. */
export interface SoakWindow {
  started: number;
  warmupMinutes: number;
  loadEnded: number;
}

/** The samples every `everyMinutes`, as [minute, RSS, heaps committed, main heap, external, arrayBuffers, threads' heaps (MiB), cached workflows]. */
function curveOf(samples: Sample[], started: number, everyMinutes: number): SoakFigures['curve'] {
  const out: SoakFigures['curve'] = [];
  for (const s of samples) {
    const minute = Math.floor((s.at - started) / 60_000);
    if (minute % everyMinutes === 0 && out.at(-1)?.[0] !== minute)
      out.push([
        minute,
        mib(s.workerRss),
        mib(s.workerHeapsPhysical),
        mib(s.workerHeapUsed),
        mib(s.workerExternal),
        mib(s.workerArrayBuffers),
        mib(s.workerThreadsHeapUsed),
        s.workerCachedWorkflows,
      ]);
  }
  return out;
}

export async function soakFigures(
  world: SoakWorld,
  minutes: number,
  samples: Sample[],
  load: LoadCounts,
  window: SoakWindow,
): Promise<SoakFigures> {
  const { byStatus, durations, duplicated } = await backupFigures(world);
  const actions = await scheduledActions(world);
  const recorded = Object.values(byStatus).reduce((a, b) => a + b, 0);
  // Warm-up (JIT, pools, the workflow cache filling, the first verifications) is left out of the
  // slopes, and so is the settling after the load, when nothing new starts.
  const steadyFrom = window.started + window.warmupMinutes * 60_000;
  const steady = samples.filter((s) => s.at >= steadyFrom && s.at <= window.loadEnded);
  const [first, last] = [samples[0]!, samples.at(-1)!];
  const cached = samples.map((s) => s.workerCachedWorkflows);
  // The heap probe logs its first line 30 s after the worker starts.
  const probed = samples.find((s) => s.workerHeapUsed > 0) ?? first;
  const series = (pick: (s: Sample) => number, from = first): Series => ({
    mib: [mib(pick(from)), mib(pick(last))],
    slopeMibPerHour: slopePerHour(steady, pick),
  });
  const fdRange = (pick: (s: Sample) => number): [number, number, number] => [
    pick(first),
    pick(last),
    Math.max(...samples.map(pick)),
  ];
  return {
    minutes,
    databases: world.sources.size,
    byStatus,
    scheduledActions: actions,
    lost: Math.max(0, actions - recorded),
    duplicated,
    retried: world.workerLog.filter(
      (r) => r.msg === 'backup started' && Number((r as { attempt?: number }).attempt) > 1,
    ).length,
    p50Seconds: round1(quantile(durations, 0.5)),
    p99Seconds: round1(quantile(durations, 0.99)),
    worker: {
      rss: series((s) => s.workerRss),
      heap: series((s) => s.workerHeapUsed, probed),
      external: series((s) => s.workerExternal, probed),
      arrayBuffers: series((s) => s.workerArrayBuffers, probed),
      threads: series((s) => s.workerThreadsHeapUsed, probed),
      heapsPhysical: series((s) => s.workerHeapsPhysical, probed),
      native: series((s) => (s.workerHeapsPhysical > 0 ? s.workerRss - s.workerHeapsPhysical : 0), probed),
    },
    webRssMib: [mib(first.webRss), mib(last.webRss)],
    cachedWorkflows: [cached[0]!, cached.at(-1)!, Math.max(...cached)],
    warmupMinutes: window.warmupMinutes,
    mallocArenaMax: world.worker.env.MALLOC_ARENA_MAX,
    curve: curveOf(samples, window.started, Math.max(1, Math.round(minutes / 10))),
    webSlopeMibPerHour: slopePerHour(steady, (s) => s.webRss),
    fds: { worker: fdRange((s) => s.workerFds), web: fdRange((s) => s.webFds) },
    catalogMib: [mib(first.catalogBytes), mib(last.catalogBytes)],
    load,
  };
}

const seriesCell = (s: Series) => `${s.mib[0]} → ${s.mib[1]} MiB, ${s.slopeMibPerHour ?? 'n/a'} MiB/h`;

export function figuresMarkdown(f: SoakFigures, when: Date): string {
  const statuses = Object.entries(f.byStatus)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  return [
    `Soak of ${f.minutes} min on ${when.toISOString().slice(0, 10)} (${os.availableParallelism()} cores, load average ${os.loadavg()[0]!.toFixed(1)} at the end): ${f.databases} databases backed up every minute to a local storage and to S3 through the fault proxy, S3 taken down ${f.load.flaps} time${f.load.flaps === 1 ? '' : 's'}; restores and the console's API alongside.`,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| scheduled runs taken by Temporal | ${f.scheduledActions} |`,
    `| backups recorded | ${statuses || 'none'} |`,
    `| lost (runs without a backup row) | ${f.lost} |`,
    `| duplicated (a run with two good backups) | ${f.duplicated} |`,
    `| dump attempts retried | ${f.retried} |`,
    `| backup duration p50 / p99 | ${f.p50Seconds} s / ${f.p99Seconds} s |`,
    `| restores alongside (failed) | ${f.load.restores} (${f.load.restoresFailed}) |`,
    `| console API calls (errors) | ${f.load.apiCalls} (${f.load.apiErrors}) |`,
    `| worker RSS first → last, slope after warm-up | ${seriesCell(f.worker.rss)} |`,
    `| worker V8 heap used after a full collection (main thread) first → last, slope after warm-up | ${seriesCell(f.worker.heap)} |`,
    `| worker external memory after the collection (main thread: Buffers, native objects) first → last, slope | ${seriesCell(f.worker.external)} |`,
    `| of which arrayBuffers (Buffers) first → last, slope | ${seriesCell(f.worker.arrayBuffers)} |`,
    `| worker threads' heaps after a full collection (workflows, data plane) first → last, slope after warm-up | ${seriesCell(f.worker.threads)} |`,
    `| physical memory committed by all the worker's V8 heaps first → last, slope | ${seriesCell(f.worker.heapsPhysical)} |`,
    `| worker RSS outside the V8 heaps (allocator, native code) first → last, slope | ${seriesCell(f.worker.native)} |`,
    `| worker's allocator setting (\`MALLOC_ARENA_MAX\`) | ${f.mallocArenaMax ?? 'unset (glibc: 8 arenas per core)'} |`,
    `| workflows in the worker's cache (first → last, max) | ${f.cachedWorkflows[0]} → ${f.cachedWorkflows[1]} (${f.cachedWorkflows[2]}) |`,
    `| console RSS first → last, slope after warm-up | ${f.webRssMib[0]} → ${f.webRssMib[1]} MiB, ${f.webSlopeMibPerHour ?? 'n/a'} MiB/h |`,
    `| open descriptors worker / console (first → last, max) | ${f.fds.worker[0]} → ${f.fds.worker[1]} (${f.fds.worker[2]}) / ${f.fds.web[0]} → ${f.fds.web[1]} (${f.fds.web[2]}) |`,
    `| catalog size first → last | ${f.catalogMib[0]} → ${f.catalogMib[1]} MiB |`,
    '',
    `Slopes are least-squares fits over the samples (every 10 s) from the end of a ${f.warmupMinutes}-minute warm-up to the end of the load; the settling after it is left out. Every 30 s each thread of the worker (the main one, the SDK's workflow thread, the data plane) runs a forced full collection, then its heap is read (\`--expose-gc\`, bench/soak/heap-probe.ts). The worker over the run:`,
    '',
    "| minute | worker RSS | V8 heaps committed | main heap after collection | external | arrayBuffers | threads' heaps | cached workflows |",
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...f.curve.map(
      ([minute, rss, committed, heap, external, buffers, threads, cached]) =>
        `| ${minute} | ${rss} MiB | ${committed} MiB | ${heap} MiB | ${external} MiB | ${buffers} MiB | ${threads} MiB | ${cached} |`,
    ),
    '',
  ].join('\n');
}

const BEGIN = '<!-- soak figures: written by npm run soak -->';
const END = '<!-- end of soak figures -->';

/** Replaces the soak's section of docs/reliability.md, keeping the rest of the page as it is. */
export async function writeIntoReliabilityPage(file: string, markdown: string): Promise<void> {
  const page = await readFile(file, 'utf8');
  const [start, end] = [page.indexOf(BEGIN), page.indexOf(END)];
  if (start < 0 || end < start) throw new Error(`${file} lacks the markers ${BEGIN} … ${END}`);
  await writeFile(file, `${page.slice(0, start + BEGIN.length)}\n\n${markdown}\n${page.slice(end)}`);
}
