/**
 * A platform whose worker runs beside one source database already filled by a schema script, and
 * the comparisons a restore test makes against that source.
 */
import assert from 'node:assert/strict';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import {
  createFilledDatabase,
  startPlatform,
  tableFingerprint,
  type Platform,
  type PlatformOptions,
} from './platform.ts';

export interface SeededPlatform {
  platform: Platform;
  source: PgTarget;
}

/** `items (id, note)` with `rows` rows: a small table that every backup of the access tests carries. */
export const itemsTable = (rows: number): string =>
  `create table items (id int primary key, note text);
   insert into items select g, 'item ' || g from generate_series(1, ${rows}) g;`;

export interface SeededPlatformOptions extends PlatformOptions {
  /** Start the in-process worker (default true). */
  worker?: boolean;
}

/**
 * A platform, a database `name` on its server loaded with `schemaSql`, and the in-process worker
 * started unless `worker` is false. A failure half-way stops the platform before it is thrown.
 */
export async function startSeededPlatform(
  name: string,
  schemaSql: string,
  options: SeededPlatformOptions = {},
): Promise<SeededPlatform> {
  const platform = await startPlatform(options);
  try {
    const source = await createFilledDatabase(platform.cluster, name, schemaSql);
    if (options.worker !== false) await platform.startWorker();
    return { platform, source };
  } catch (error) {
    await platform.stop();
    throw error;
  }
}

/** Every table of `tables` ([name, order by]) has the same rows in the same order in both databases. */
export async function assertSameTables(
  restored: PgTarget,
  source: PgTarget,
  tables: Array<[string, string]>,
): Promise<void> {
  for (const [table, order] of tables) {
    const [got, wanted] = [
      await tableFingerprint(restored, table, order),
      await tableFingerprint(source, table, order),
    ];
    assert.deepEqual(got, wanted, `table ${table} differs`);
  }
}

/** The last value of a sequence, as text (it may exceed a JavaScript number). */
export async function sequenceValue(target: PgTarget, sequence: string): Promise<string> {
  const client = await connect('seq', target);
  try {
    const { rows } = await client.query<{ v: string }>(`select last_value::text as v from ${sequence}`);
    return rows[0]!.v;
  } finally {
    await client.end();
  }
}
