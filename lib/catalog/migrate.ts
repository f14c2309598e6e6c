import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { inTransaction, withAdvisoryLock, type Queryable } from './db.ts';

const migrationsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Held while migrating: the web server and workers may start together. */
const MIGRATION_LOCK = 7355608;

/**
 * Applies pending migrations in file-name order, each in its own transaction. An advisory lock
 * lets the web server and workers start together without applying a migration twice.
 */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  return withAdvisoryLock(pool, MIGRATION_LOCK, async (client) => {
    const applied: string[] = [];
    await client.query(
      'create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())',
    );
    const done = new Set(
      (await client.query<{ version: string }>('select version from schema_migrations')).rows.map((r) => r.version),
    );
    const files = (await readdir(migrationsDir)).filter((f) => f.endsWith('.sql')).sort();
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      if (done.has(version)) continue;
      const sql = await readFile(path.join(migrationsDir, file), 'utf8');
      try {
        await inTransaction(client, async (tx) => {
          await tx.query(sql);
          await tx.query('insert into schema_migrations (version) values ($1)', [version]);
        });
      } catch (error) {
        throw new Error(`catalog migration ${file} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(version);
    }
    return applied;
  });
}

/** How many migrations the catalog has applied (for `hindsight doctor`). */
export async function migrationsApplied(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>('select count(*)::text as n from schema_migrations');
  return Number(rows[0]?.n ?? 0);
}
