/**
 * The bench's summary: a table of contender, median wall time, ratio and sizes, with the cores and
 * load average it ran under, printed and written to bench/results/<date>-pitr.md, followed by where
 * each restore spent its time.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { median } from '../settings.ts';
import type { RestoreRun } from './restores.ts';
import type { RpoRun } from './rpo.ts';
import type { ServerPhases } from './server-log.ts';

const MIB = 1024 * 1024;
const mib = (n: number) => `${(n / MIB).toFixed(1)} MiB`;
const secs = (values: number[]) => values.map((v) => v.toFixed(1)).join(', ');

export interface BaseBackupRun {
  seconds: number;
  raw: number;
  stored: number;
}

export interface PitrBenchResult {
  databaseBytes: number;
  versions: string;
  baseBackups: { hindsight: BaseBackupRun[]; pgbackrest: BaseBackupRun[] };
  restores: { hindsight: RestoreRun[]; pgbackrest: RestoreRun[] } | null;
  rpo: RpoRun;
  rpoSeconds: number;
  partialIntervalMs: number;
}

const verdict = (ratio: number, target: number) =>
  `${ratio.toFixed(2)}× (≤ ${target}: ${ratio <= target ? 'met' : 'MISSED'})`;

/** Medians of each named part over the rounds, in the order of the first round. */
function medianParts(runs: RestoreRun[]): string {
  const names = Object.keys(runs[0]?.parts ?? {});
  return names.map((n) => `${n} ${median(runs.map((r) => r.parts[n] ?? 0)).toFixed(2)} s`).join(', ');
}

function medianServer(runs: RestoreRun[]): string {
  const phases = runs.map((r) => r.server).filter((s): s is ServerPhases => s !== null);
  if (phases.length === 0) return 'no server log';
  const m = (pick: (s: ServerPhases) => number | null) => {
    const values = phases.map(pick).filter((v): v is number => v !== null);
    return values.length ? `${(median(values) / 1000).toFixed(2)} s` : '?';
  };
  return `start-up (incl. fsync of the data directory) ${m((s) => s.startupMs)}, redo ${m((s) => s.redoMs)} (${median(phases.map((s) => s.walFiles))} WAL files restored), end of redo → ready ${m((s) => s.endOfRecoveryMs)}`;
}

function tableRows(r: PitrBenchResult): string[] {
  const { hindsight: hb, pgbackrest: pb } = r.baseBackups;
  const bh = median(hb.map((x) => x.seconds));
  const bp = median(pb.map((x) => x.seconds));
  const rows = [
    '| what | contender | wall time (median) | rounds (s) | ratio to pgBackRest (target) | stored |',
    '| --- | --- | --- | --- | --- | --- |',
    `| base backup | Hindsight | ${bh.toFixed(1)} s | ${secs(hb.map((x) => x.seconds))} | ${verdict(bh / bp, 0.9)} | ${mib(hb.at(-1)!.stored)} |`,
    `| base backup | pgbackrest backup --type=full | ${bp.toFixed(1)} s | ${secs(pb.map((x) => x.seconds))} | 1 | ${mib(pb.at(-1)!.stored)} |`,
  ];
  if (r.restores) {
    const rh = median(r.restores.hindsight.map((x) => x.seconds));
    const rp = median(r.restores.pgbackrest.map((x) => x.seconds));
    rows.push(
      `| restore to the end of the archive, until promoted | Hindsight pitrRestore latest | ${rh.toFixed(1)} s | ${secs(r.restores.hindsight.map((x) => x.seconds))} | ${verdict(rh / rp, 0.8)} | |`,
      `| restore to the end of the archive, until promoted | pgbackrest restore + start | ${rp.toFixed(1)} s | ${secs(r.restores.pgbackrest.map((x) => x.seconds))} | 1 | |`,
    );
  }
  return rows;
}

export function renderReport(r: PitrBenchResult): string {
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  const lines = [
    `Database ${mib(r.databaseBytes)} (pg_database_size); ${r.versions}. ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), shared with other work; load average at the end ${load}.`,
    '',
    ...tableRows(r),
    '',
    `RPO under pgbench (${r.rpo.tps} tps, ${r.rpo.samples.length} samples over ${r.rpoSeconds} s, partial segments shipped every ${r.partialIntervalMs} ms): p50 ${r.rpo.p50.toFixed(2)} s, p99 ${r.rpo.p99.toFixed(2)} s (target ≤ 1 s: ${r.rpo.p99 <= 1 ? 'met' : 'MISSED'}), max ${r.rpo.max.toFixed(2)} s.`,
  ];
  if (r.restores) {
    lines.push(
      '',
      'Where the restores spent their time (medians over the rounds):',
      `- Hindsight: ${medianParts(r.restores.hindsight)}.`,
      `  Its server: ${medianServer(r.restores.hindsight)}.`,
      `- pgBackRest: ${medianParts(r.restores.pgbackrest)}.`,
      `  Its server: ${medianServer(r.restores.pgbackrest)}.`,
    );
  }
  return lines.join('\n');
}

/** Writes bench/results/<date>-pitr.md; returns its path. */
export async function writeReport(r: PitrBenchResult): Promise<string> {
  const now = new Date();
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = `${dir}${now.toISOString().slice(0, 10)}-pitr.md`;
  const body = [
    `# PITR against pgBackRest, ${now.toISOString().slice(0, 10)}`,
    '',
    `Written by \`bench/pitr-vs-pgbackrest.ts\` at ${now.toISOString()}.`,
    '',
    renderReport(r),
    '',
  ].join('\n');
  await writeFile(file, body);
  return file;
}
