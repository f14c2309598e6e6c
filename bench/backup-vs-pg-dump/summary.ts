/** The backup bench's table and results: medians, ratios to pg_dump and the targets they are held to. */
import os from 'node:os';
import { median } from '../settings.ts';
import type { HindsightRun } from './contenders.ts';
import { DESTINATIONS, type DestinationName, type Measurements } from './measure.ts';
import { targetsFor } from './results-md.ts';
import { fmtBytes, fmtOptional, fmtSeconds, medianOf, MIB, printTable, verdict } from './report-format.ts';

const TARGET_RSS_MIB = 32;

type Row = [string, string, string?];

/** The table's first rows: the dataset, the machine and pg_dump alone. */
function baselineRows(m: Measurements, rounds: number, pgDump: { seconds: number; bytes: number }): Row[] {
  const { dataset, baseline } = m;
  const { compression } = m.pgDump;
  return [
    [
      'database size',
      fmtBytes(dataset.sizeBytes),
      `(${dataset.sizeBytes} bytes, generated in ${fmtSeconds(dataset.seconds)})`,
    ],
    [
      'pg_dump compression',
      compression.flag,
      `(${compression.name} level ${compression.level}, as Hindsight uses; ${m.pgDump.version})`,
    ],
    ['CPUs', `${os.availableParallelism()}`, os.cpus()[0]?.model ?? ''],
    ['rounds', `${rounds}`, '(medians below)'],
    ['pg_dump wall time', fmtSeconds(pgDump.seconds), `runs: ${baseline.map((r) => r.seconds.toFixed(2)).join(', ')}`],
    [
      'pg_dump output',
      `${pgDump.bytes} B`,
      `(${fmtBytes(pgDump.bytes)}; database/dump = ${(dataset.sizeBytes / pgDump.bytes).toFixed(2)}x)`,
    ],
    [
      'pg_dump CPU, alone',
      fmtOptional(medianOf(baseline, (r) => r.pgDump?.cpuSeconds)),
      `waited ${fmtOptional(medianOf(baseline, (r) => r.pgDump?.cpuWaitSeconds))} for a CPU`,
    ],
  ];
}

/** One destination's medians against pg_dump and its targets: its table rows and its result. */
function destinationSummary(
  name: DestinationName,
  runs: HindsightRun[],
  pgDumpSeconds: number,
  pgDumpMajor: number,
): { rows: Row[]; result: unknown } {
  const TARGET_RATIO = targetsFor(pgDumpMajor).time;
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
  const rows: Row[] = [
    [
      `-> ${name}: wall time`,
      fmtSeconds(seconds),
      `runs: ${runs.map((r) => r.seconds.toFixed(2)).join(', ')}; dump activity ${fmtOptional(activitySeconds)}`,
    ],
    [
      `-> ${name}: ratio to pg_dump`,
      ratio.toFixed(3),
      name === 'local' ? verdict(ratio <= TARGET_RATIO, `<= ${TARGET_RATIO}`) : '(network destination: no target)',
    ],
    [
      `-> ${name}: stored object`,
      `${storedBytes} B`,
      `(encrypted: +${((storedBytes / dumpBytes - 1) * 100).toFixed(3)}%)`,
    ],
    [
      `-> ${name}: peak RSS growth`,
      `${rssGrowthMib.toFixed(1)} MiB`,
      verdict(rssGrowthMib <= rssTarget, `<= ${rssTarget} MiB`),
    ],
    [
      `-> ${name}: worker CPU`,
      fmtSeconds(workerCpuSeconds),
      `pg_dump CPU ${fmtOptional(medianOf(runs, (r) => r.pgDump?.cpuSeconds))}, waited ${fmtOptional(medianOf(runs, (r) => r.pgDump?.cpuWaitSeconds))} for a CPU`,
    ],
  ];
  const result = {
    runs,
    medianSeconds: seconds,
    medianActivitySeconds: activitySeconds,
    medianStoredBytes: storedBytes,
    medianDumpBytes: dumpBytes,
    medianWorkerCpuSeconds: workerCpuSeconds,
    ratio: {
      value: ratio,
      target: name === 'local' ? TARGET_RATIO : null,
      met: name === 'local' ? ratio <= TARGET_RATIO : null,
    },
    peakRssGrowthMib: { value: rssGrowthMib, target: rssTarget, met: rssGrowthMib <= rssTarget },
  };
  return { rows, result };
}

export function summarize(
  m: Measurements,
  settings: { sizeMb: number; rounds: number; destinations: DestinationName[]; workerNodeOptions: string | null },
) {
  const { dataset, baseline } = m;
  const pgDumpSeconds = median(baseline.map((r) => r.seconds));
  const pgDumpBytes = median(baseline.map((r) => r.bytes));
  const cpus = os.availableParallelism();
  const { compression } = m.pgDump;

  const rows = baselineRows(m, settings.rounds, { seconds: pgDumpSeconds, bytes: pgDumpBytes });
  const perDestination: Record<string, unknown> = {};
  for (const name of settings.destinations) {
    const runs = m.hindsight[name] ?? [];
    if (runs.length === 0) continue;
    const summary = destinationSummary(name, runs, pgDumpSeconds, compression.name === 'gzip' ? 15 : 16);
    rows.push(...summary.rows);
    perDestination[name] = summary.result;
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
