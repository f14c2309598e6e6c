import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import { audience, type CandidateNotifier, type PlannedNotification } from '../notify/audience.ts';
import type { NotifierConfig } from '../notify/config.ts';
import { allRows, withTransaction, type Queryable, type SealingDb } from './db.ts';
import { unsealNotifierConfig, type SealedNotifierRow } from './notifier-records.ts';
import { fieldsOf, type RowOf } from './rows.ts';

export type DeliveryStatus = 'pending' | 'sent' | 'failed';

export interface DeliveryRecord {
  id: number;
  notificationId: number;
  notifierName: string;
  event: string;
  database: string | null;
  message: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  response: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Everything one delivery needs, secrets unsealed: for the sending activity only. */
export interface DeliveryWork {
  deliveryId: number;
  status: DeliveryStatus;
  notifierName: string;
  config: NotifierConfig;
  notification: { event: string; database: string | null; message: string; createdAt: Date };
}

/** The columns that pass to a DeliveryRecord as they are. */
const deliveryColumns = [
  'notifier_name',
  'event',
  'database',
  'message',
  'status',
  'attempts',
  'last_error',
  'response',
  'created_at',
  'updated_at',
] as const;

interface DeliveryRow extends RowOf<DeliveryRecord, (typeof deliveryColumns)[number]> {
  id: string;
  notification_id: string;
}

function toDelivery(row: DeliveryRow): DeliveryRecord {
  return { ...fieldsOf(row, deliveryColumns), id: Number(row.id), notificationId: Number(row.notification_id) };
}

/** Marks a scope's unplanned notifications planned and adds one delivery per notifier that hears each. */
async function planScope(tx: Queryable, database: string | null): Promise<void> {
  const { rows } = await tx.query<{ id: string; database_id: string | null; workspace_id: string; event: string }>(
    `update notifications n set planned_at = now()
     where n.planned_at is null and n.id in (
       select x.id from notifications x left join databases d on d.id = x.database_id
       where x.planned_at is null and ($1::text is null and x.database_id is null or d.name = $1)
       for update of x skip locked)
     returning n.id, n.database_id, n.workspace_id, n.event`,
    [database],
  );
  if (rows.length === 0) return;
  const planned = rows.map((r) => ({
    id: Number(r.id),
    databaseId: r.database_id === null ? null : Number(r.database_id),
    workspaceId: Number(r.workspace_id),
    event: r.event,
  }));
  const pairs = audience(planned, await candidates(tx, planned));
  await tx.query(
    `insert into notification_deliveries (notification_id, notifier_id, status)
     select pair.notification_id, pair.notifier_id, 'pending'
     from unnest($1::bigint[], $2::bigint[]) as pair(notification_id, notifier_id)
     on conflict (notification_id, notifier_id) do nothing`,
    [pairs.map(([n]) => n), pairs.map(([, nf]) => nf)],
  );
}

/** The notifiers that may hear any of these: of a workspace-wide row's workspace, or attached to a row's database. */
async function candidates(tx: Queryable, planned: PlannedNotification[]): Promise<CandidateNotifier[]> {
  const workspaces = planned.filter((n) => n.databaseId === null).map((n) => n.workspaceId);
  const databases = planned.flatMap((n) => (n.databaseId === null ? [] : [n.databaseId]));
  const { rows } = await tx.query<{ id: string; workspace_id: string; events: string[]; database_ids: string[] }>(
    `select nf.id, nf.workspace_id, nf.events,
       array(select dn.database_id from database_notifiers dn
             where dn.notifier_id = nf.id and dn.database_id = any($2::bigint[])) as database_ids
     from notifiers nf
     where nf.workspace_id = any($1::bigint[])
        or exists (select 1 from database_notifiers dn where dn.notifier_id = nf.id and dn.database_id = any($2::bigint[]))`,
    [workspaces, databases],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    workspaceId: Number(r.workspace_id),
    events: r.events,
    databaseIds: r.database_ids.map(Number),
  }));
}

/**
 * Plans the deliveries of a scope's unplanned notifications (a database's, or those of no
 * database when `database` is null, whatever their workspace): one row per notifier that hears
 * each (lib/notify/audience.ts: attached to the database; for no database, every notifier of the
 * notification's own workspace) whose toggle for the event is on. Returns the
 * scope's deliveries still pending, oldest first. Safe to run concurrently and repeatedly.
 */
export async function planDeliveries(pool: pg.Pool, database: string | null): Promise<number[]> {
  await withTransaction(pool, (tx) => planScope(tx, database));
  const { rows } = await pool.query<{ id: string }>(
    `select dl.id from notification_deliveries dl join notifications x on x.id = dl.notification_id
     left join databases d on d.id = x.database_id
     where dl.status = 'pending' and ($1::text is null and x.database_id is null or d.name = $1) order by dl.id
     limit 500`,
    [database],
  );
  return rows.map((r) => Number(r.id));
}

export async function deliveryWork(s: SealingDb, deliveryId: number): Promise<DeliveryWork> {
  const { rows } = await s.pool.query<
    SealedNotifierRow & {
      status: DeliveryStatus;
      event: string;
      message: string;
      created_at: Date;
      database: string | null;
    }
  >(
    `select dl.id, dl.status, nf.name, nf.config, nf.sealed_secrets, x.event, x.message, x.created_at, d.name as database
     from notification_deliveries dl join notifiers nf on nf.id = dl.notifier_id
     join notifications x on x.id = dl.notification_id
     left join databases d on d.id = x.database_id where dl.id = $1`,
    [deliveryId],
  );
  const row = rows[0];
  if (!row)
    throw new HindsightError(
      'not_found',
      `delivery ${deliveryId} does not exist (its notifier or database was removed)`,
    );
  return {
    deliveryId,
    status: row.status,
    notifierName: row.name,
    config: unsealNotifierConfig(s.keys, row),
    notification: { event: row.event, database: row.database, message: row.message, createdAt: row.created_at },
  };
}

/** One attempt's outcome. Success settles the delivery and the notifier's health at once. */
export async function recordAttempt(
  db: Queryable,
  deliveryId: number,
  outcome: { ok: true; response: string } | { ok: false; error: string },
): Promise<void> {
  if (outcome.ok) {
    await db.query(
      `with d as (update notification_deliveries
         set attempts = attempts + 1, status = 'sent', response = $2, updated_at = now()
                  where id = $1 returning notifier_id)
       update notifiers set consecutive_failures = 0, last_success_at = now() where id in (select notifier_id from d)`,
      [deliveryId, outcome.response],
    );
  } else {
    await db.query(
      `update notification_deliveries set attempts = attempts + 1, last_error = $2, updated_at = now() where id = $1`,
      [deliveryId, outcome.error],
    );
  }
}

/** Retries are exhausted (or the error is permanent): the delivery failed and the notifier is worse off. */
export async function failDelivery(db: Queryable, deliveryId: number, error: string): Promise<void> {
  await db.query(
    `with d as (update notification_deliveries
       set status = 'failed', last_error = coalesce($2, last_error), updated_at = now()
                where id = $1 and status = 'pending' returning notifier_id)
     update notifiers set consecutive_failures = consecutive_failures + 1, last_error = $2, last_failure_at = now()
     where id in (select notifier_id from d)`,
    [deliveryId, error],
  );
}

/** Which deliveries to list: `workspaces` keeps those of these workspaces' notifiers (before the limit). */
export interface DeliveryQuery {
  notifier?: string;
  database?: string;
  workspaces?: number[];
  limit?: number;
}

export async function deliveries(db: Queryable, options: DeliveryQuery = {}): Promise<DeliveryRecord[]> {
  return allRows(
    db,
    `select dl.*, nf.name as notifier_name, x.event, x.message, d.name as database
     from notification_deliveries dl join notifiers nf on nf.id = dl.notifier_id
     join notifications x on x.id = dl.notification_id
     left join databases d on d.id = x.database_id
     where ($1::text is null or nf.name = $1) and ($2::text is null or d.name = $2)
       and ($4::bigint[] is null or nf.workspace_id = any($4::bigint[]))
     order by dl.id desc limit $3`,
    [options.notifier ?? null, options.database ?? null, options.limit ?? 100, options.workspaces ?? null],
    toDelivery,
  );
}

/** Scopes (database names; null for notifications of no database) with work that no wake-up picked up. */
export async function scopesWithUndelivered(db: Queryable, olderThanSeconds: number): Promise<Array<string | null>> {
  const { rows } = await db.query<{ name: string | null }>(
    `select distinct d.name from notifications x left join databases d on d.id = x.database_id
     where x.created_at < now() - make_interval(secs => $1) and (x.planned_at is null
       or exists (select 1 from notification_deliveries dl where dl.notification_id = x.id and dl.status = 'pending'
                  and dl.updated_at < now() - make_interval(secs => $1)))`,
    [olderThanSeconds],
  );
  return rows.map((r) => r.name ?? null);
}
