/** How the backup bench prints its figures. */
import { median } from '../settings.ts';
import type { PgDumpSched } from './contenders.ts';

export const MIB = 1024 * 1024;

export const fmtBytes = (n: number) => (n >= MIB ? `${(n / MIB).toFixed(1)} MiB` : `${n} B`);
export const fmtSeconds = (s: number) => `${s.toFixed(2)} s`;
export const fmtOptional = (s: number | null) => (s === null ? '?' : fmtSeconds(s));

export function printTable(rows: Array<[string, string, string?]>): void {
  const width = Math.max(...rows.map((r) => r[0].length));
  const valueWidth = Math.max(...rows.map((r) => r[1].length));
  console.log('');
  for (const [label, value, note] of rows)
    console.log(`  ${label.padEnd(width)}  ${value.padStart(valueWidth)}${note ? `  ${note}` : ''}`);
  console.log('');
}

export const fmtSched = (p: PgDumpSched | null) =>
  p
    ? `pg_dump CPU ${fmtSeconds(p.cpuSeconds)}, waited ${fmtSeconds(p.cpuWaitSeconds)} for a CPU`
    : 'pg_dump not observed';
export const medianOf = <T>(runs: T[], pick: (run: T) => number | undefined): number | null => {
  const values = runs.map(pick).filter((v): v is number => v !== undefined);
  return values.length ? median(values) : null;
};

export const verdict = (ok: boolean, target: string) =>
  ok ? `ok (target ${target})` : `TARGET MISSED (target ${target})`;
