/**
 * A server's PITR archive (migration 017): the database record that carries the cluster's slot,
 * stream and base backups, which every other database of the server shares (migration 014).
 */
import type { Queryable } from './db.ts';

/** The database that carries the server's archive, if the server has one (on or off). */
export async function serverArchive(db: Queryable, server: string): Promise<string | null> {
  const { rows } = await db.query<{ name: string }>(
    'select d.name from servers s join databases d on d.id = s.pitr_archive_database_id where s.name = $1',
    [server],
  );
  return rows[0]?.name ?? null;
}

/** Records (or, with null, forgets) the database that carries the server's archive. */
export async function setServerArchive(db: Queryable, server: string, database: string | null): Promise<void> {
  await db.query(
    'update servers set pitr_archive_database_id = (select id from databases where name = $2) where name = $1',
    [server, database],
  );
}

/** The server whose archive `database` carries, if any: what `db pitr on` names when it shares. */
export async function serverOfArchive(db: Queryable, database: string): Promise<string | undefined> {
  const { rows } = await db.query<{ name: string }>(
    'select s.name from servers s join databases d on d.id = s.pitr_archive_database_id where d.name = $1',
    [database],
  );
  return rows[0]?.name;
}
