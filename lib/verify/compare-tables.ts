/**
 * The restored tables against the manifest: exact row counts, and where the manifest has one, the
 * content checksum taken the same way in the copy (lib/pg/table-checksums.ts). A table whose count
 * matches and whose checksum does not holds rows that were changed.
 */
import type { TableRowCount } from '../pg/row-counts.ts';
import type { TableChecksum } from '../pg/table-checksums.ts';
import type { TableComparison } from './report.ts';

const key = (t: { schema: string; table: string }) => `${t.schema}\u0000${t.table}`;
const sumOf = (c: TableChecksum | undefined) => (c && c.scope !== 'none' ? c.sum : null);

/** What the comparison shows of a checksum: how much of the table it covers, and both values. */
function checksumComparison(expected: TableChecksum | undefined, restored: TableChecksum | undefined) {
  if (!expected) return undefined;
  return { scope: expected.scope, expected: sumOf(expected), restored: sumOf(restored) };
}

/** Every table of the manifest and of the restored database, mismatches first. */
export function compareTables(expected: TableRowCount[], restored: TableRowCount[]): TableComparison[] {
  const restoredBy = new Map(restored.map((t) => [key(t), t]));
  const expectedKeys = new Set(expected.map(key));
  const rows: TableComparison[] = expected.map((t) => {
    const got = restoredBy.get(key(t));
    const checksum = checksumComparison(t.checksum, got?.checksum);
    const sameContent = !checksum || checksum.expected === checksum.restored;
    return {
      schema: t.schema,
      table: t.table,
      expected: t.rows,
      restored: got?.rows ?? null,
      ok: got?.rows === t.rows && sameContent,
      ...(checksum ? { checksum } : {}),
    };
  });
  for (const t of restored) {
    if (!expectedKeys.has(key(t)))
      rows.push({ schema: t.schema, table: t.table, expected: null, restored: t.rows, ok: false });
  }
  return rows.sort(
    (a, b) => Number(a.ok) - Number(b.ok) || a.schema.localeCompare(b.schema) || a.table.localeCompare(b.table),
  );
}

/** The reason a verification fails for these mismatches, naming at most ten tables. */
export function mismatchReason(bad: TableComparison[]): string {
  const countsDiffer = bad.some((c) => c.expected !== c.restored);
  const listed = bad
    .slice(0, 10)
    .map((c) =>
      c.expected !== c.restored
        ? `${c.schema}.${c.table}: expected ${c.expected ?? 'absent'}, restored ${c.restored ?? 'absent'}`
        : `${c.schema}.${c.table}: ${c.expected} rows on both sides, checksum (${c.checksum?.scope}) expected ${c.checksum?.expected}, restored ${c.checksum?.restored}`,
    )
    .join('; ');
  const what = countsDiffer ? 'row counts differ' : 'table contents differ (same row counts, other values)';
  return `${what} in ${bad.length} table(s): ${listed}${bad.length > 10 ? '; …' : ''}`;
}

/** The line a passing comparison reports: how many tables, and how many of them by content. */
export function matchSummary(comparisons: TableComparison[]): string {
  const full = comparisons.filter((c) => c.checksum?.scope === 'full').length;
  const sampled = comparisons.filter((c) => c.checksum?.scope === 'sample').length;
  const hashed = full + sampled;
  if (hashed === 0) return `every one of ${comparisons.length} tables matches exactly`;
  return `every one of ${comparisons.length} tables matches exactly; content checksums equal for ${hashed} (${full} whole, ${sampled} sampled by primary key)`;
}
