/**
 * A verification as `hindsight verify --wait` and `hindsight verifications` print it: the stages,
 * the counts, and what the role without privileges could not load, by name, so that a person sees
 * what "verified" covered.
 */
import type { LoadItem, VerificationSummary } from '../lib/verify/report.ts';
import { counted } from '../lib/counted.ts';
import { formatBytes } from './output.ts';

const MAX_LISTED = 20;

function listItems(label: string, items: LoadItem[]): string[] {
  if (items.length === 0) return [];
  const shown = items.slice(0, MAX_LISTED).map((i) => `    ${i.type} ${i.name}: ${i.reason}`);
  const more = items.length > MAX_LISTED ? [`    … and ${items.length - MAX_LISTED} more (--json lists all)`] : [];
  return [`  ${label} (${items.length}):`, ...shown, ...more];
}

export function formatVerification(v: VerificationSummary): string {
  const lines = [`verification ${v.id} of backup ${v.backupId ?? '?'}: ${v.status}${v.reason ? ` — ${v.reason}` : ''}`];
  const r = v.report;
  if (r) {
    for (const s of r.stages)
      lines.push(`  ${s.ok === false ? '✗' : s.ok ? '✓' : '…'} ${s.stage.padEnd(8)} ${s.detail ?? ''}`);
    if (r.sandbox?.confinement)
      lines.push(
        `  sandbox: ${r.sandbox.driver}, PostgreSQL ${r.sandbox.major}, confinement ${r.sandbox.confinement}${r.sandbox.detail ? ` (${r.sandbox.detail})` : ''}`,
      );
    if (r.load) {
      lines.push(
        `  loaded as role ${r.load.role}: ${counted(r.load.entries, 'archive entry', 'archive entries')}${r.load.extensions.length ? `; extensions made by the sandbox: ${r.load.extensions.join(', ')}` : ''}`,
      );
      lines.push(
        ...listItems('failed to load', r.load.failed),
        ...listItems('refused (needs a privilege the load does not have)', r.load.refused),
        ...listItems('skipped (only a superuser can create)', r.load.skipped),
      );
    }
    if (r.tables !== null)
      lines.push(
        `  ${counted(r.schemas, 'schema')}, ${counted(r.tables, 'table')}, ${r.restoredRows} of ${counted(r.expectedRows, 'row')}; restored ${formatBytes(r.restoredSizeBytes)} (source ${formatBytes(r.sourceSizeBytes)})${typeof r.timeToUsableSeconds === 'number' ? ` in ${r.timeToUsableSeconds.toFixed(1)} s to a usable database` : ''}`,
      );
    for (const c of r.comparisons.filter((x) => !x.ok))
      lines.push(
        c.expected === c.restored && c.checksum
          ? `  mismatch ${c.schema}.${c.table}: ${c.expected} rows on both sides, content checksum (${c.checksum.scope}) expected ${c.checksum.expected}, restored ${c.checksum.restored}`
          : `  mismatch ${c.schema}.${c.table}: expected ${c.expected ?? 'absent'}, restored ${c.restored ?? 'absent'}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
