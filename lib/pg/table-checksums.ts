/**
 * A checksum of each table's content, taken in the same scan as its exact row count and, during a
 * backup, in the dump's own snapshot; verification takes it again in the restored copy. A count
 * proves rows arrived; this proves what they hold.
 *
 * The checksum of a row is the first 64 bits of the MD5 of its text form (`t::text`, every column in
 * order); a table's is the sum of its rows' (as signed 64-bit integers, in numeric, so it cannot
 * overflow). A sum needs no sort and gives the same value whatever order the rows come back in,
 * and both sides compute it with the same server function, so no row leaves the server.
 *
 * The text form depends on session settings (dates, intervals, time zone, bytea, floats), so both
 * sides set the same ones first (CHECKSUM_SETTINGS). Tables larger than the policy's full limit are
 * sampled: the rows whose primary key's MD5 falls in one bucket of `sampleOneIn`, a choice that
 * depends only on the key, so the restored copy hashes the same rows; a large table without a
 * primary key is counted only, and the manifest says so. docs/backup-format.md defines it for other
 * readers.
 */
import type pg from 'pg';
import { z } from 'zod';
import { quoteIdent } from './connection.ts';

export const checksumPolicySchema = z.object({
  /** Tables up to this size (pg_table_size: heap and TOAST) are hashed whole. */
  fullMaxBytes: z.number().int().nonnegative(),
  /** Larger tables: one row in this many, chosen by primary key. */
  sampleOneIn: z.number().int().min(1).max(1_000_000),
});
export type ChecksumPolicy = z.infer<typeof checksumPolicySchema>;

/** 8 MiB whole, then one row in 64: measured in docs/performance.md ("Content checksums"). */
export const DEFAULT_CHECKSUM_POLICY: ChecksumPolicy = { fullMaxBytes: 8 * 1024 * 1024, sampleOneIn: 64 };

/** What the manifest records per table, enough for any reader to recompute it. */
export const tableChecksumSchema = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('full'), sum: z.string().regex(/^-?\d+$/), hashedRows: z.number().int().nonnegative() }),
  z.object({
    scope: z.literal('sample'),
    sum: z.string().regex(/^-?\d+$/),
    hashedRows: z.number().int().nonnegative(),
    oneIn: z.number().int().min(1),
    key: z.array(z.string()).min(1),
    /** How the key picks a row (sampleCondition); `key-md5` in manifests that do not say. */
    pick: z.enum(['key-md5', 'int-key']).default('key-md5'),
  }),
  z.object({ scope: z.literal('none'), reason: z.string() }),
]);
export type TableChecksum = z.infer<typeof tableChecksumSchema>;

/** The settings that fix every built-in type's text form; set on both sides before hashing. */
export const CHECKSUM_SETTINGS = [
  // Built-in functions and operators only, whatever the database defines in its own schemas.
  'set search_path = pg_catalog, pg_temp',
  "set datestyle = 'ISO, YMD'",
  "set intervalstyle = 'postgres'",
  "set timezone = 'UTC'",
  "set bytea_output = 'hex'",
  'set extra_float_digits = 3',
  "set lc_monetary = 'C'",
] as const;

export async function applyChecksumSettings(client: pg.Client): Promise<void> {
  for (const statement of CHECKSUM_SETTINGS) await client.query(statement);
}

const ROW_HASH = `('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint::numeric`;

/** 2^32 divided by the golden ratio: multiplying by it spreads consecutive (or evenly spaced) keys over 2^32. */
const FIBONACCI = 2654435761;

/**
 * The sampled rows. `key-md5`: those whose key's MD5 starts in one bucket of `oneIn` (28 bits, always
 * positive). `int-key`, for a key of one integer column: a multiplicative hash of the key (its absolute
 * value modulo 2^31 - 1, times 2^32/φ, modulo 2^32) below 2^32/oneIn — integer arithmetic only, several
 * times cheaper than an MD5 per row, and spread evenly even over keys that step by a power of two.
 */
function sampleCondition(plan: SamplePlan): string {
  const keyText = `row(${plan.key.map((c) => `t.${quoteIdent(c)}`).join(', ')})::text`;
  if (plan.pick === 'int-key') {
    const key = `abs(mod(t.${quoteIdent(plan.key[0]!)}::bigint, 2147483647))`;
    return `(${key} * ${FIBONACCI}) % 4294967296 < ${Math.floor(4294967296 / plan.oneIn)}`;
  }
  return `('x0' || substr(md5(${keyText}), 1, 7))::bit(32)::int % ${plan.oneIn} = 0`;
}

type SamplePlan = { scope: 'sample'; key: string[]; oneIn: number; pick: 'key-md5' | 'int-key' };

/** How a table is hashed: the scope, and for a sample its key, rate and way of picking. */
export type ChecksumPlan = { scope: 'full' } | SamplePlan | { scope: 'none'; reason: string };

/** The one statement that counts every row and hashes those the plan says. */
export function checksumStatement(schema: string, table: string, plan: ChecksumPlan): string {
  const from = `from only ${quoteIdent(schema)}.${quoteIdent(table)} t`;
  if (plan.scope === 'none') return `select count(*)::text as n ${from}`;
  const filter = plan.scope === 'sample' ? ` filter (where ${sampleCondition(plan)})` : '';
  return `select count(*)::text as n, count(*)${filter}::text as hashed, coalesce(sum(${ROW_HASH})${filter}, 0)::text as sum ${from}`;
}

/** Runs the plan's statement: the exact count, and the checksum the plan asks for. */
export async function measureTable(
  client: pg.Client,
  schema: string,
  table: string,
  plan: ChecksumPlan,
): Promise<{ rows: number; checksum: TableChecksum }> {
  const { rows } = await client.query<{ n: string; hashed?: string; sum?: string }>(
    checksumStatement(schema, table, plan),
  );
  const row = rows[0]!;
  const count = Number(row.n);
  if (plan.scope === 'none') return { rows: count, checksum: plan };
  const hashed = { sum: row.sum!, hashedRows: Number(row.hashed) };
  return {
    rows: count,
    checksum:
      plan.scope === 'full'
        ? { scope: 'full', ...hashed }
        : { scope: 'sample', ...hashed, oneIn: plan.oneIn, key: plan.key, pick: plan.pick },
  };
}

/** What a table's plan depends on: its size, primary key, and whether it holds floating-point columns. */
export interface TableShape {
  sizeBytes: number;
  key: string[] | null;
  /** The key is one column of smallint, integer or bigint: sampled by integer hash. */
  intKey: boolean;
  floats: boolean;
}

/**
 * The plan for a table of the source. Before PostgreSQL 12 a float prints with 17 digits, from 12
 * in its shortest exact form, and no setting prints the other way: a table with float columns on
 * an older source is only counted, since its copy may be restored into a newer server.
 */
export function planFor(shape: TableShape, policy: ChecksumPolicy, serverMajor: number): ChecksumPlan {
  if (shape.floats && serverMajor < 12)
    return { scope: 'none', reason: 'floating-point columns print differently before PostgreSQL 12' };
  if (shape.sizeBytes <= policy.fullMaxBytes) return { scope: 'full' };
  if (!shape.key || shape.key.length === 0)
    return { scope: 'none', reason: `larger than ${policy.fullMaxBytes} bytes and without a primary key to sample by` };
  return { scope: 'sample', key: shape.key, oneIn: policy.sampleOneIn, pick: shape.intKey ? 'int-key' : 'key-md5' };
}

/** The plan the manifest recorded, to take the same checksum of the restored table. */
export function planOf(recorded: TableChecksum): ChecksumPlan {
  if (recorded.scope === 'sample')
    return { scope: 'sample', key: recorded.key, oneIn: recorded.oneIn, pick: recorded.pick };
  return recorded.scope === 'full' ? { scope: 'full' } : recorded;
}

/** Each table's shape (size, primary key columns in key order, float columns), by schema-qualified name, and the server's major. */
export async function tableShapes(client: pg.Client): Promise<{ major: number; shapes: Map<string, TableShape> }> {
  const { rows } = await client.query<{
    schema: string;
    table: string;
    size: string;
    key: string[] | null;
    int_key: boolean | null;
    floats: boolean;
  }>(
    `select n.nspname as schema, c.relname as table, pg_table_size(c.oid)::text as size,
            (select array_agg(a.attname::text order by k.ord)
               from pg_index i
               cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
               join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
              where i.indrelid = c.oid and i.indisprimary) as key,
            (select i.indnatts = 1 and a.atttypid in ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
               from pg_index i join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
              where i.indrelid = c.oid and i.indisprimary) as int_key,
            exists (select 1 from pg_attribute a join pg_type t on t.oid = a.atttypid
                     where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                       and (t.typname in ('float4', 'float8', '_float4', '_float8')
                            or (t.typtype = 'd' and t.typbasetype in ('float4'::regtype, 'float8'::regtype)))) as floats
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r'`,
  );
  const version = await client.query<{ n: string }>(`select current_setting('server_version_num') as n`);
  const shapes = new Map(
    rows.map((r) => [
      `${r.schema}.${r.table}`,
      { sizeBytes: Number(r.size), key: r.key, intKey: r.int_key === true, floats: r.floats },
    ]),
  );
  return { major: Math.floor(Number(version.rows[0]!.n) / 10000), shapes };
}
