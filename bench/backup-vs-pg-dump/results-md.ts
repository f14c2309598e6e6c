/** bench/results/<date>.md: per pg_dump major, raw pg_dump against a Hindsight backup, as the bench measured them. */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { median } from '../settings.ts';
import type { DumpRun, HindsightRun } from './contenders.ts';
import { dumpCompressionPlan } from '../../lib/backup/compress.ts';
import { MIB } from './report-format.ts';

export interface MajorResult {
  major: number;
  pgDumpVersion: string;
  pgDumpFlag: string;
  databaseBytes: number;
  baseline: DumpRun[];
  hindsight: HindsightRun[];
}

/**
 * The goals: with pg_dump before 16 (gzip inside), compressing outside must take at most 0.6 of
 * pg_dump's time; from 16 (zstd inside) at most 1.02. Output at most 1.02 of pg_dump's either way.
 */
export const targetsFor = (major: number) => ({ time: major < 16 ? 0.6 : 1.02, size: 1.02 });

const seconds = (runs: Array<{ seconds: number }>) => median(runs.map((r) => r.seconds));
const runsText = (runs: Array<{ seconds: number }>) => runs.map((r) => r.seconds.toFixed(2)).join(', ');
const met = (value: number, target: number) =>
  `${value.toFixed(3)} (≤ ${target}: ${value <= target ? 'met' : 'MISSED'})`;

/** What Hindsight runs with this pg_dump major. */
function pipelineOf(major: number): string {
  const plan = dumpCompressionPlan(major);
  return plan.zstdArgs
    ? `\`pg_dump ${plan.pgDumpFlag} \\| zstd ${plan.zstdArgs.join(' ')}\``
    : `\`pg_dump ${plan.pgDumpFlag}\``;
}

function rowsFor(r: MajorResult): string[] {
  const target = targetsFor(r.major);
  const base = { seconds: seconds(r.baseline), bytes: median(r.baseline.map((b) => b.bytes)) };
  const mine = { seconds: seconds(r.hindsight), bytes: median(r.hindsight.map((h) => h.storedBytes)) };
  const rss = Math.max(...r.hindsight.map((h) => (h.rssPeakBytes - h.rssBeforeBytes) / MIB));
  return [
    `| ${r.pgDumpVersion} | \`pg_dump -Fc ${r.pgDumpFlag}\` → /dev/null | ${base.seconds.toFixed(2)} s | ${runsText(r.baseline)} | 1 | ${base.bytes} B | 1 | — |`,
    `| ${r.pgDumpVersion} | Hindsight → local (${pipelineOf(r.major)}, encrypted) | ${mine.seconds.toFixed(2)} s | ${runsText(r.hindsight)} | ${met(mine.seconds / base.seconds, target.time)} | ${mine.bytes} B | ${met(mine.bytes / base.bytes, target.size)} | ${rss.toFixed(1)} MiB |`,
  ];
}

export function resultsMarkdown(results: MajorResult[], settings: { sizeMb: number; rounds: number }): string {
  const at = new Date().toISOString();
  const lines = [
    `# Backup against pg_dump, ${at.slice(0, 10)}`,
    '',
    `Written by \`bench/backup-vs-pg-dump.ts\` at ${at}. ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' / ',
      )}; BENCH_SIZE_MB=${settings.sizeMb}, ${settings.rounds} alternating rounds, medians. Database sizes: ${results
      .map((r) => `PostgreSQL ${r.major} ${(r.databaseBytes / MIB).toFixed(1)} MiB`)
      .join(', ')}.`,
    '',
    '| pg_dump | contender | wall time | runs (s) | ratio to pg_dump | output | size ratio | peak worker RSS growth |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.flatMap(rowsFor),
    '',
    'The stored size includes encryption (+0.003 %). On a machine shared with other work, wall times swing between rounds: read the runs, not only the medians.',
    '',
  ];
  return lines.join('\n');
}

/** Writes the table to bench/results/<yyyy-mm-dd>.md; returns the file. */
export async function writeResultsMarkdown(
  results: MajorResult[],
  settings: { sizeMb: number; rounds: number },
): Promise<string> {
  const dir = fileURLToPath(new URL('../results/', import.meta.url));
  await mkdir(dir, { recursive: true });
  const file = `${dir}${new Date().toISOString().slice(0, 10)}.md`;
  await writeFile(file, resultsMarkdown(results, settings));
  return file;
}
