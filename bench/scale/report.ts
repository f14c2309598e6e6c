/**
 * The scale bench's results as bench/results/<date>-scale.md: the figures docs/performance.md
 * quotes, with the settings and the load average beside them. Called at the end of a run, or on a
 * results file written earlier:
 *
 *   scripts/node bench/scale/report.ts bench/out/scale-<stamp>.json
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Settings } from './settings.ts';
import type { Stats } from './stats.ts';

const MIB = 1024 * 1024;
const mib = (n: number | null | undefined) => (n === null || n === undefined ? '?' : `${Math.round(n / MIB)} MiB`);
const s = (v: number | null | undefined) => (v === null || v === undefined ? '?' : `${v.toFixed(2)} s`);
const lag = (x: Stats) => `${s(x.p50)} / ${s(x.p99)} / ${s(x.max)}`;

/** The parts of the results file the report reads (bench/scale.ts writes more). */
interface ScaleResults {
  at: string;
  wallMinutes: number;
  machine: {
    cpus: number;
    cpuModel: string | null;
    memoryBytes: number;
    postgresMajor: number;
    loadAverageAtEnd?: number[];
  };
  settings: Settings;
  setup: {
    createDatabases: { seconds: number };
    register: { seconds: number; perDatabaseMs: number; concurrency: number };
    databaseList?: { rows: number; medianMs: number; jsonBytes: number };
    temporalRss: { atStartBytes: number | null; afterRegisterBytes: number | null; atEndBytes: number | null };
    catalog: { emptyBytes: number; registeredBytes: number };
  };
  health: { probed: number; monitors: number; seconds: number; cpuMsPerMonitor: Record<string, number> };
  phases: Array<{
    workers: number;
    expected: number;
    completed: number;
    offered: { perMinute: number; perHour: number };
    lagSeconds: Record<'workflowStart' | 'firstActivity' | 'dumpStart' | 'completed', Stats>;
    target: { met: boolean };
    scheduleUpdate: { seconds: number; marginSeconds: number };
    rss: {
      workers: Array<{
        atReadyBytes: number | null;
        peakBytes: number | null;
        endBytes: number | null;
        slopeMibPerMinute?: number | null;
      }>;
      temporal: { peakBytes: number; endBytes: number; slopeMibPerMinute?: number | null } | null;
    };
    cpu: { wallSeconds: number; machineBusyPercent: number; seconds: Record<string, number> };
    load1m: { mean: number | null; max: number | null };
    catalog: { beforeBytes: number; afterBytes: number };
  }>;
  catalogEnd: { sizeBytes: number };
}

function phaseRows(p: ScaleResults['phases'][number], i: number): string[] {
  const cpu = p.cpu.seconds;
  const workers = p.rss.workers
    .map(
      (w) =>
        `${mib(w.atReadyBytes)} → ${mib(w.peakBytes)} → ${mib(w.endBytes)} (slope ${w.slopeMibPerMinute ?? '?'} MiB/min)`,
    )
    .join('; ');
  const t = p.rss.temporal;
  return [
    `| phase ${i + 1}: workers | ${p.workers} |`,
    `| offered | ${p.offered.perMinute}/min (${p.offered.perHour}/h), ${p.expected} backups |`,
    `| completed | ${p.completed} / ${p.expected} |`,
    `| lag → workflow start p50 / p99 / max | ${lag(p.lagSeconds.workflowStart)} |`,
    `| **lag → first activity p50 / p99 / max** | **${lag(p.lagSeconds.firstActivity)}** (target p99 ≤ 5 s: ${p.target.met ? 'met' : 'missed'}) |`,
    `| lag → dump start / done p99 | ${s(p.lagSeconds.dumpStart.p99)} / ${s(p.lagSeconds.completed.p99)} |`,
    `| worker RSS ready → peak → end | ${workers} |`,
    `| Temporal RSS peak / end | ${t ? `${mib(t.peakBytes)} / ${mib(t.endBytes)} (slope ${t.slopeMibPerMinute ?? '?'} MiB/min)` : '?'} |`,
    `| CPU-s workers / Temporal / PostgreSQL / other over ${Math.round(p.cpu.wallSeconds)} s | ${cpu.workers} / ${cpu.temporal} / ${cpu.postgres} / ${cpu.other} (machine ${p.cpu.machineBusyPercent} % busy) |`,
    `| load average (1 min) mean / max | ${p.load1m.mean ?? '?'} / ${p.load1m.max ?? '?'} |`,
    `| schedules moved to their slots | ${p.scheduleUpdate.seconds} s (${p.scheduleUpdate.marginSeconds} s to spare) |`,
    `| catalog before → after | ${mib(p.catalog.beforeBytes)} → ${mib(p.catalog.afterBytes)} |`,
  ];
}

export function scaleReport(r: ScaleResults): string {
  const { setup, health } = r;
  const list = setup.databaseList;
  const lines = [
    `# Scale, ${r.at.slice(0, 10)}`,
    '',
    `Written by \`bench/scale.ts\` at ${r.at} (run ${r.wallMinutes} min). ${r.machine.cpus} cores (${r.machine.cpuModel ?? '?'}), ${Math.round(r.machine.memoryBytes / 1024 ** 3)} GiB, PostgreSQL ${r.machine.postgresMajor}; load average at the end ${(r.machine.loadAverageAtEnd ?? os.loadavg()).map((v) => v.toFixed(1)).join(' / ')}. The machine is shared with other work: read "other" CPU and the load beside every figure.`,
    '',
    `Settings: \`${JSON.stringify(r.settings)}\`. ${r.settings.databases} databases registered against ${r.settings.sources} real ones.`,
    '',
    '| | value |',
    '| --- | --- |',
    `| sources created | ${r.settings.sources} in ${s(setup.createDatabases.seconds)} |`,
    `| registration (addDatabase) | ${r.settings.databases} in ${s(setup.register.seconds)}, ${setup.register.perDatabaseMs.toFixed(1)} ms each at ${setup.register.concurrency} in flight |`,
    `| databases list (GET /api/v1/databases) | ${list ? `${list.rows} rows in ${list.medianMs} ms, ${mib(list.jsonBytes)} JSON` : '?'} |`,
    `| Temporal RSS start → registered → end | ${mib(setup.temporalRss.atStartBytes)} → ${mib(setup.temporalRss.afterRegisterBytes)} → ${mib(setup.temporalRss.atEndBytes)} |`,
    `| catalog empty → registered → end | ${mib(setup.catalog.emptyBytes)} → ${mib(setup.catalog.registeredBytes)} → ${mib(r.catalogEnd.sizeBytes)} |`,
    `| health sweep, first check of every database | ${health.probed}/${health.monitors} in ${s(health.seconds)}; CPU ms per database: worker ${health.cpuMsPerMonitor.workers}, Temporal ${health.cpuMsPerMonitor.temporal}, PostgreSQL ${health.cpuMsPerMonitor.postgres} |`,
    ...r.phases.flatMap(phaseRows),
    '',
  ];
  return lines.join('\n');
}

/** Writes the report beside the other results, named by the run's date. */
export async function writeScaleReport(results: ScaleResults): Promise<string> {
  const file = fileURLToPath(new URL(`../results/${results.at.slice(0, 10)}-scale.md`, import.meta.url));
  await writeFile(file, scaleReport(results));
  return file;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const input = process.argv[2];
  if (!input) throw new Error('usage: scripts/node bench/scale/report.ts bench/out/scale-<stamp>.json');
  const file = await writeScaleReport(JSON.parse(await readFile(input, 'utf8')) as ScaleResults);
  console.log(`written to ${file}`);
}
