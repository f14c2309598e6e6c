/** A database's backup-overdue threshold, which `hindsight db overdue` sets for its notifiers. */
import { HindsightError } from '../errors.ts';
import { databaseNotRegistered, type Queryable } from './db.ts';

/** Since when a database's backup counts as overdue (hours), or null when nobody asked to hear of it. */
export async function overdueHours(db: Queryable, database: string): Promise<number | null> {
  const { rows } = await db.query<{ backup_overdue_hours: number | null }>(
    'select backup_overdue_hours from databases where name = $1',
    [database],
  );
  if (!rows[0]) throw new HindsightError('not_found', `database "${database}" is not registered`);
  return rows[0].backup_overdue_hours;
}

export async function setOverdueHours(db: Queryable, database: string, hours: number | null): Promise<void> {
  const { rowCount } = await db.query('update databases set backup_overdue_hours = $2 where name = $1', [
    database,
    hours,
  ]);
  if (!rowCount) throw databaseNotRegistered(database);
}
