/**
 * The catalog server's clock. Every backup's `finished_at` is written with its `now()`, so rules
 * that weigh a backup's age (retention) read the time from it too: the worker's own clock may run
 * minutes ahead or behind, and a backup must never look older than it is (docs/reliability.md).
 */
import type { Queryable } from './db.ts';

export async function catalogClock(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('select clock_timestamp() as now');
  return rows[0]!.now;
}
