/**
 * amcheck over the restored database: `bt_index_check(index, heapallindexed => true)` on every
 * B-tree index, smallest first, within a time budget. It proves each index is well-formed and that
 * every heap tuple has its index entry, which a row count or a content checksum cannot see.
 *
 * amcheck's functions are for superusers unless granted. The superuser installs the extension in a
 * schema of its own in the scratch database before anything from the dump is loaded, and grants the
 * restore role EXECUTE on the one function; the checks then run as the restore role, like every
 * other query on the restored data (index expressions the check evaluates are the dump's code).
 */
import type pg from 'pg';
import { errorMessage } from '../errors.ts';
import { connect, quoteIdent, type PgTarget } from '../pg/connection.ts';

export const INDEX_CHECK_SCHEMA = 'hindsight_amcheck';

export interface IndexCheckReport {
  /** Why nothing was checked (amcheck missing on the sandbox server), or null. */
  unavailable: string | null;
  total: number;
  checked: number;
  /** Left unchecked when the budget ran out, the largest ones. */
  skipped: number;
  budgetSeconds: number;
  seconds: number;
  corrupt: Array<{ index: string; error: string }>;
}

/**
 * As the superuser, before the load: amcheck in its own schema (or where the dump's own CREATE
 * EXTENSION put it), and EXECUTE on bt_index_check for the restore role. Returns the schema, or the
 * reason it cannot be had.
 */
export async function grantIndexCheck(
  admin: PgTarget,
  database: string,
  role: string,
): Promise<{ schema: string } | { unavailable: string }> {
  const client = await connect('verification sandbox', { ...admin, database });
  try {
    await client.query('set search_path = pg_catalog, pg_temp');
    const available = await client.query(`select 1 from pg_available_extensions where name = 'amcheck'`);
    if (available.rowCount === 0) return { unavailable: 'amcheck is not installed on the sandbox server' };
    let schema = (
      await client.query<{ schema: string }>(
        `select n.nspname as schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'amcheck'`,
      )
    ).rows[0]?.schema;
    if (!schema) {
      schema = INDEX_CHECK_SCHEMA;
      await client.query(`create schema ${quoteIdent(schema)}`);
      await client.query(`create extension amcheck with schema ${quoteIdent(schema)}`);
    }
    await client.query(`grant usage on schema ${quoteIdent(schema)} to ${quoteIdent(role)}`);
    await client.query(
      `grant execute on function ${quoteIdent(schema)}.bt_index_check(regclass, boolean) to ${quoteIdent(role)}`,
    );
    return { schema };
  } catch (error) {
    return { unavailable: `amcheck could not be prepared: ${errorMessage(error)}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

const INDEXES = `
  select c.oid::regclass::text as index
    from pg_index i
    join pg_class c on c.oid = i.indexrelid
    join pg_am a on a.oid = c.relam
    join pg_namespace n on n.oid = c.relnamespace
   where a.amname = 'btree' and i.indisvalid and i.indisready and c.relpersistence <> 't'
     and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'
   order by pg_relation_size(c.oid), 1`;

async function checkEach(
  client: pg.Client,
  schema: string,
  indexes: string[],
  deadline: number,
  report: IndexCheckReport,
) {
  for (const index of indexes) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    await client.query(`set statement_timeout = ${Math.max(1000, Math.ceil(left))}`);
    try {
      await client.query(`select ${quoteIdent(schema)}.bt_index_check($1::regclass, true)`, [index]);
    } catch (error) {
      // A check cut short by the budget is not a corrupt index: it is one not checked.
      if ((error as { code?: string }).code === '57014') break;
      report.corrupt.push({ index, error: errorMessage(error) });
    }
    report.checked++;
  }
}

/** Checks every B-tree index of the restored database as the restore role, within `budgetSeconds`. */
export async function checkIndexes(
  restored: PgTarget,
  prepared: { schema: string } | { unavailable: string },
  budgetSeconds: number,
): Promise<IndexCheckReport> {
  const started = Date.now();
  const report: IndexCheckReport = {
    unavailable: null,
    total: 0,
    checked: 0,
    skipped: 0,
    budgetSeconds,
    seconds: 0,
    corrupt: [],
  };
  if ('unavailable' in prepared) return { ...report, unavailable: prepared.unavailable };
  const client = await connect('verification sandbox', restored);
  try {
    await client.query('set search_path = pg_catalog, pg_temp');
    const indexes = (await client.query<{ index: string }>(INDEXES)).rows.map((r) => r.index);
    report.total = indexes.length;
    await checkEach(client, prepared.schema, indexes, started + budgetSeconds * 1000, report);
  } finally {
    await client.end().catch(() => undefined);
  }
  report.skipped = report.total - report.checked;
  report.seconds = (Date.now() - started) / 1000;
  return report;
}

/** The stage's line: what was checked, and the first corrupt indexes by name. */
export function indexCheckSummary(r: IndexCheckReport): { ok: boolean; detail: string } {
  if (r.unavailable) return { ok: true, detail: `indexes not checked: ${r.unavailable}` };
  const budget =
    r.skipped > 0 ? `; ${r.skipped} larger one(s) left unchecked when the ${r.budgetSeconds} s budget ran out` : '';
  if (r.corrupt.length === 0)
    return {
      ok: true,
      detail: `amcheck: ${r.checked} of ${r.total} B-tree indexes intact (heap entries included)${budget}`,
    };
  const named = r.corrupt
    .slice(0, 5)
    .map((c) => `${c.index}: ${c.error}`)
    .join('; ');
  return { ok: false, detail: `amcheck found ${r.corrupt.length} corrupt index(es): ${named}${budget}` };
}
