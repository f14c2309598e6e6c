import type pg from 'pg';
import type { Keyring } from '../crypto/keyring.ts';
import { HindsightError } from '../errors.ts';

/**
 * What a repository function runs its SQL on: the catalog's pool, or the client of an open
 * transaction (`withTransaction`), so that one function serves both.
 */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** For the functions that seal or unseal a secret column: the pool and the keyring. */
export interface SealingDb {
  pool: pg.Pool;
  keys: Keyring;
}

/**
 * Runs `work` in one transaction on one client of the pool: committed when it resolves, rolled
 * back when it throws (the original error is kept even if the rollback fails too).
 */
export async function withTransaction<T>(pool: pg.Pool, work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await inTransaction(client, work);
  } finally {
    client.release();
  }
}

/** The same on a client the caller already holds (e.g. one that keeps a session lock). */
export async function inTransaction<C extends pg.ClientBase, T>(client: C, work: (tx: C) => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

/**
 * Holds a session advisory lock for the duration of `work`, on a client of its own: two processes
 * that take the same lock run one after the other. `work` gets that client.
 */
export async function withAdvisoryLock<T>(
  pool: pg.Pool,
  lockId: number,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [lockId]);
    try {
      return await work(client);
    } finally {
      await client.query('select pg_advisory_unlock($1)', [lockId]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

// The repositories are module functions whose first argument is what they run on; `bind` turns a
// table of them into the methods callers know (catalog.getDatabase(name), …).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type RepositoryFunction<C> = (on: C, ...args: any[]) => unknown;
export type Bound<C, M extends Record<string, RepositoryFunction<C>>> = {
  [K in keyof M]: M[K] extends (on: C, ...args: infer A) => infer R ? (...args: A) => R : never;
};

export function bind<C, M extends Record<string, RepositoryFunction<C>>>(on: C, functions: M): Bound<C, M> {
  const bound: Record<string, (...args: unknown[]) => unknown> = {};
  for (const [name, fn] of Object.entries(functions)) bound[name] = (...args: unknown[]) => fn(on, ...args);
  return bound as Bound<C, M>;
}

/** Every row a query returns, each made a record by `toRecord`. */
export async function allRows<R extends pg.QueryResultRow, T>(
  db: Queryable,
  text: string,
  values: unknown[],
  toRecord: (row: R) => T,
): Promise<T[]> {
  const { rows } = await db.query<R>(text, values);
  return rows.map((row) => toRecord(row));
}

/** The first row a query returns, made a record by `toRecord`; undefined when it returns none. */
export async function firstRow<R extends pg.QueryResultRow, T>(
  db: Queryable,
  text: string,
  values: unknown[],
  toRecord: (row: R) => T,
): Promise<T | undefined> {
  const { rows } = await db.query<R>(text, values);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export const isUniqueViolation = (error: unknown): boolean => (error as { code?: string }).code === '23505';

/** bigint and numeric columns arrive as strings. */
export const num = (v: string | number | null): number | null => (v === null ? null : Number(v));
export const big = (v: string | number | null): bigint | null => (v === null ? null : BigInt(v));

export const databaseNotRegistered = (name: string): HindsightError =>
  new HindsightError('not_found', `database "${name}" is not registered (hindsight db list shows the registered ones)`);

/** The id of a registered database, or not_found. */
export async function databaseIdOf(db: Queryable, name: string): Promise<number> {
  const { rows } = await db.query<{ id: string }>('select id from databases where name = $1', [name]);
  if (!rows[0]) throw databaseNotRegistered(name);
  return Number(rows[0].id);
}
