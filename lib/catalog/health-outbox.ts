import type { Queryable } from './db.ts';

/**
 * Whose notification it is: a database's (the database's workspace is its workspace), or, with no
 * database, the workspace's named here — whose notifiers alone hear it.
 */
export type NotificationScope = { database: string } | { database: null; workspaceId: number };

export type QueuedNotice = NotificationScope & {
  event: string;
  message: string;
  dedupeKey: string;
};

/**
 * Queues a notification once per dedupe key and workspace; returns false when it was already
 * queued, or when its database is gone (no one is left to hear of it, and a row of no database
 * would reach the whole workspace instead). A row of no database without its workspace is refused
 * (workspace_id is not null): it must never fall back to some default workspace.
 */
export async function queueNotification(db: Queryable, input: QueuedNotice): Promise<boolean> {
  const workspaceId = input.database === null ? input.workspaceId : null;
  const { rowCount } = await db.query(
    `insert into notifications (database_id, workspace_id, event, message, dedupe_key)
     select d.id, coalesce(d.workspace_id, $2::bigint), $3, $4, $5
     from (select 1) one left join databases d on d.name = $1
     where $1::text is null or d.id is not null
     on conflict (workspace_id, dedupe_key) do nothing`,
    [input.database, workspaceId, input.event, input.message, input.dedupeKey],
  );
  return (rowCount ?? 0) > 0;
}
