/**
 * The databases a restore drill creates on its target server: a fresh one per drill, named by the
 * database and the time, and those an earlier drill left behind (found by their name's prefix).
 */
import type pg from 'pg';
import { errorMessage } from '../errors.ts';
import { quoteIdent } from '../pg/connection.ts';

export const DRILL_PREFIX = 'hindsight_drill_';

/** PostgreSQL cuts identifiers at 63 bytes: the database's part is shortened so the time always fits. */
const MAX_NAME_PART = 63 - DRILL_PREFIX.length - '_yyyymmddhhmmss'.length;

/** `hindsight_drill_<db>_<yyyymmddhhmmss>`, in UTC. */
export function drillDatabaseName(database: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:T]/g, '');
  return `${drillPrefixOf(database)}${stamp}`;
}

/** What every drill database of `database` starts with. */
export function drillPrefixOf(database: string): string {
  const part = database.slice(0, MAX_NAME_PART);
  return `${DRILL_PREFIX}${part}_`;
}

/** The names drillDatabaseName gives `database`, exactly: `shop`'s pattern must not match `shop_eu`'s drills. */
export const drillNamePattern = (database: string) =>
  `^${drillPrefixOf(database).replace(/[^a-z0-9_]/g, (c) => `\\${c}`)}[0-9]{14}$`;

/**
 * Drops the drill databases of `database` that an earlier drill left (a crash between create and
 * drop). One still in use (a drill running now) is left alone: a plain DROP refuses it.
 */
export async function dropLeftoverDrills(
  admin: pg.Client,
  database: string,
  keep: string,
): Promise<{ dropped: string[]; kept: Array<{ name: string; reason: string }> }> {
  const { rows } = await admin.query<{ datname: string }>(
    'select datname from pg_database where datname ~ $1 and datname <> $2 order by datname',
    [drillNamePattern(database), keep],
  );
  const dropped: string[] = [];
  const kept: Array<{ name: string; reason: string }> = [];
  for (const { datname } of rows) {
    try {
      await admin.query(`drop database if exists ${quoteIdent(datname)}`);
      dropped.push(datname);
    } catch (error) {
      kept.push({ name: datname, reason: errorMessage(error) });
    }
  }
  return { dropped, kept };
}

/** Creates the drill's database; a name already taken is refused, never reused. */
export async function createDrillDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`create database ${quoteIdent(name)} template template0 encoding 'UTF8'`);
}

/**
 * Drops the drill's own database. Sessions pg_restore left (killed mid-way) may linger for a
 * moment: they are ended first (WITH (FORCE) from PostgreSQL 13), and the drop is tried again.
 */
export async function dropDrillDatabase(admin: pg.Client, name: string, serverMajor: number): Promise<void> {
  const force = serverMajor >= 13 ? ' with (force)' : '';
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      await admin.query(`drop database if exists ${quoteIdent(name)}${force}`);
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
    }
  }
  throw lastError;
}
