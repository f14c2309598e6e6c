/** How the CLI shows restore drills: `db show`'s lines, `db drill`'s outcome and `db drills`' table. */
import type { RestoreDrillRecord, RestoreDrillSettings } from '../lib/catalog/restore-drills.ts';
import { formatBytes } from './output.ts';

/** `successful 2026-12-01T03:17:12Z: 41.2 s to usable, 3.1 GB, 212 tables checked` (or the error). */
export function drillSummary(d: RestoreDrillRecord): string {
  const when = d.finishedAt ?? d.startedAt;
  if (d.status === 'failed') return `failed ${when}: ${d.error ?? 'no reason recorded'}`;
  if (d.status === 'running') return `running since ${d.startedAt}`;
  return `successful ${when}: ${d.timeToUsableSeconds ?? '?'} s to usable, ${formatBytes(d.restoredBytes)}, ${d.tablesChecked ?? 0} tables checked`;
}

/** `db show`: the drill's settings and its newest run. */
export function drillLine(
  drill: { settings: RestoreDrillSettings | null; last: RestoreDrillRecord | null },
  timezone: string,
): string[] {
  const lines = [
    drill.settings
      ? `restore drill into ${drill.settings.target} on "${drill.settings.cron}" (${timezone})`
      : 'restore drill off',
  ];
  if (drill.last) lines.push(`  last drill  ${drillSummary(drill.last)}`);
  return lines;
}

/** A row of `db drills`. */
export const drillRow = (d: RestoreDrillRecord) => ({
  id: d.id,
  started: d.startedAt,
  backup: d.backupId ?? '-',
  status: d.status,
  'to usable': d.timeToUsableSeconds === null ? '-' : `${d.timeToUsableSeconds} s`,
  size: formatBytes(d.restoredBytes),
  tables: d.tablesChecked === null ? '-' : String(d.tablesChecked),
  error: d.error ?? '',
});
