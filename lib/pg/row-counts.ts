import type pg from 'pg';
import { quoteIdent } from './connection.ts';
import {
  applyChecksumSettings,
  measureTable,
  planFor,
  planOf,
  tableShapes,
  type ChecksumPolicy,
  type TableChecksum,
} from './table-checksums.ts';

export interface TableRowCount {
  schema: string;
  table: string;
  rows: number;
  /** The content checksum taken in the same scan (table-checksums.ts); absent in older manifests. */
  checksum?: TableChecksum;
}

/** What to hash besides counting: a policy (a backup's source), or the checksums a manifest recorded (a restored copy). */
export type ChecksumRequest = { policy: ChecksumPolicy } | { recorded: TableRowCount[] };

/**
 * Ordinary tables and partitions that pg_dump writes data for: user schemas only, and not the
 * member tables of extensions (pg_dump leaves those to CREATE EXTENSION).
 */
const tablesQuery = `
  select n.nspname as schema, c.relname as table
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where c.relkind = 'r'
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname !~ '^pg_(toast|temp)'
    and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
  order by 1, 2`;

export async function listTables(client: pg.Client): Promise<Array<{ schema: string; table: string }>> {
  const { rows } = await client.query<{ schema: string; table: string }>(tablesQuery);
  return rows;
}

/**
 * Exact counts (not reltuples estimates), in whatever snapshot the client's transaction holds; with
 * `checksums`, each table's content checksum in the same scan.
 */
export async function countRows(client: pg.Client, checksums?: ChecksumRequest): Promise<TableRowCount[]> {
  const tables = await listTables(client);
  if (!checksums) {
    const out: TableRowCount[] = [];
    for (const t of tables) {
      const { rows } = await client.query<{ n: string }>(
        `select count(*)::text as n from only ${quoteIdent(t.schema)}.${quoteIdent(t.table)}`,
      );
      out.push({ ...t, rows: Number(rows[0]!.n) });
    }
    return out;
  }
  await applyChecksumSettings(client);
  const plans =
    'policy' in checksums
      ? planFromShapes(await tableShapes(client), checksums.policy)
      : planFromManifest(checksums.recorded);
  const out: TableRowCount[] = [];
  for (const t of tables) {
    const plan = plans(`${t.schema}.${t.table}`);
    out.push({ ...t, ...(await measureTable(client, t.schema, t.table, plan)) });
  }
  return out;
}

function planFromShapes({ major, shapes }: Awaited<ReturnType<typeof tableShapes>>, policy: ChecksumPolicy) {
  return (name: string) =>
    planFor(shapes.get(name) ?? { sizeBytes: 0, key: null, intKey: false, floats: false }, policy, major);
}

/** A table the manifest has no checksum for (an older backup, or a table it did not have) is counted only. */
function planFromManifest(recorded: TableRowCount[]) {
  const byName = new Map(recorded.map((t) => [`${t.schema}.${t.table}`, t.checksum]));
  return (name: string) => {
    const checksum = byName.get(name);
    return checksum ? planOf(checksum) : { scope: 'none' as const, reason: 'no checksum in the manifest' };
  };
}

export interface RowCountMismatch {
  schema: string;
  table: string;
  expected: number | null;
  actual: number | null;
}

/** Every table whose restored count differs, including tables missing on either side. */
export function compareRowCounts(expected: TableRowCount[], actual: TableRowCount[]): RowCountMismatch[] {
  const key = (t: { schema: string; table: string }) => `${t.schema}.${t.table}`;
  const actualByKey = new Map(actual.map((t) => [key(t), t.rows]));
  const expectedKeys = new Set(expected.map(key));
  const mismatches: RowCountMismatch[] = [];
  for (const t of expected) {
    const got = actualByKey.get(key(t));
    if (got !== t.rows) mismatches.push({ schema: t.schema, table: t.table, expected: t.rows, actual: got ?? null });
  }
  for (const t of actual) {
    if (!expectedKeys.has(key(t)))
      mismatches.push({ schema: t.schema, table: t.table, expected: null, actual: t.rows });
  }
  return mismatches;
}
