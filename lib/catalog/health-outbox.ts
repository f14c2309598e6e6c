import type { Queryable } from './db.ts';

export interface QueuedNotice {
  database: string | null;
  event: string;
  message: string;
  dedupeKey: string;
}

/** Queues a notification once per dedupe key; returns false when it was already queued. */
export async function queueNotification(db: Queryable, input: QueuedNotice): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into notifications (database_id, event, message, dedupe_key)
     values ((select id from databases where name = $1), $2, $3, $4)
     on conflict (dedupe_key) do nothing`,
    [input.database, input.event, input.message, input.dedupeKey],
  );
  return (rowCount ?? 0) > 0;
}
