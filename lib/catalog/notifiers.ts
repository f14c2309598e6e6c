import type pg from 'pg';
import { seal, unseal } from '../crypto/sealed.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { sealedContexts } from './sealed-columns.ts';
import { HindsightError } from '../errors.ts';
import {
  defaultNotifierEvents, describeNotifier, joinNotifierSecrets, notifierConfigSchema, splitNotifierSecrets,
  type NotificationEvent, type NotifierConfig, type NotifierType,
} from '../notify/config.ts';

/** A notifier as shown to people: settings without secrets, its toggles and its health. */
export interface NotifierRecord {
  id: number;
  workspaceId: number;
  name: string;
  type: NotifierType;
  settings: Record<string, unknown>;
  summary: string;
  hasSecrets: boolean;
  events: NotificationEvent[];
  databases: string[];
  /** Deliveries that failed in a row (after their retries); 0 once one succeeds. */
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  createdAt: Date;
}

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

export interface OverdueDatabase {
  database: string;
  thresholdHours: number;
  lastBackupId: string | null;
  lastBackupAt: Date | null;
  /** Since when the database counts as unprotected: its last complete backup, or its registration. */
  since: Date;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toNotifier(row: any): NotifierRecord {
  return {
    id: Number(row.id), workspaceId: Number(row.workspace_id), name: row.name, type: row.type, settings: row.config, summary: row.summary,
    hasSecrets: row.sealed_secrets !== null, events: row.events, databases: row.databases ?? [],
    consecutiveFailures: row.consecutive_failures, lastError: row.last_error, lastSuccessAt: row.last_success_at, lastFailureAt: row.last_failure_at,
    createdAt: row.created_at,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toDelivery(row: any): DeliveryRecord {
  return {
    id: Number(row.id), notificationId: Number(row.notification_id), notifierName: row.notifier_name, event: row.event, database: row.database,
    message: row.message, status: row.status, attempts: row.attempts, lastError: row.last_error, response: row.response,
    createdAt: row.created_at, updatedAt: row.updated_at,
  };
}

const notifierSelect = `
  select n.*, array(select d.name from database_notifiers dn join databases d on d.id = dn.database_id
                    where dn.notifier_id = n.id order by d.name) as databases
  from notifiers n`;

const notFound = (name: string) => new HindsightError('not_found', `notifier "${name}" does not exist (hindsight notifier list shows the configured ones)`);

/**
 * Notifiers, their attachment to databases and the deliveries of the outbox (`notifications`).
 * A notification is planned once: one delivery row per notifier that should hear of it.
 */
export function createNotifierStore(pool: pg.Pool, keys: Keyring) {
  const secretsContext = sealedContexts.notifierSecrets;

  function unsealConfig(row: { name: string; config: Record<string, unknown>; sealed_secrets: string | null }): NotifierConfig {
    const secrets = row.sealed_secrets ? JSON.parse(unseal(keys.resolve, row.sealed_secrets, secretsContext(row.name))) as Record<string, unknown> : {};
    const parsed = notifierConfigSchema.safeParse(joinNotifierSecrets(row.config, secrets));
    if (!parsed.success) {
      throw new HindsightError('bad_input', `notifier "${row.name}" has an invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')} (save it again with hindsight notifier add)`);
    }
    return parsed.data;
  }

  const store = {
    /** Saves a notifier (the config already validated); a new one hears the default events. */
    async upsert(name: string, config: NotifierConfig, events?: NotificationEvent[], workspaceId = 1): Promise<NotifierRecord> {
      const { settings, secrets } = splitNotifierSecrets(config);
      const sealed = Object.keys(secrets).length > 0 ? seal(keys.current(), JSON.stringify(secrets), secretsContext(name)) : null;
      await pool.query(
        `insert into notifiers (name, type, config, sealed_secrets, summary, events, workspace_id) values ($1, $2, $3, $4, $5, $6, $8)
         on conflict (name) do update set type = excluded.type, config = excluded.config, sealed_secrets = excluded.sealed_secrets,
           summary = excluded.summary, events = coalesce($7, notifiers.events), updated_at = now()`,
        [name, config.type, JSON.stringify(settings), sealed, describeNotifier(config), events ?? defaultNotifierEvents, events ?? null, workspaceId],
      );
      return store.get(name);
    },

    async get(name: string): Promise<NotifierRecord> {
      const { rows } = await pool.query(`${notifierSelect} where n.name = $1`, [name]);
      if (!rows[0]) throw notFound(name);
      return toNotifier(rows[0]);
    },

    async list(): Promise<NotifierRecord[]> {
      const { rows } = await pool.query(`${notifierSelect} order by n.name`);
      return rows.map(toNotifier);
    },

    /** The full configuration with secrets unsealed: for sending only, never for a response. */
    async config(name: string): Promise<NotifierConfig> {
      const { rows } = await pool.query('select name, config, sealed_secrets from notifiers where name = $1', [name]);
      if (!rows[0]) throw notFound(name);
      return unsealConfig(rows[0]);
    },

    async remove(name: string): Promise<void> {
      const { rowCount } = await pool.query('delete from notifiers where name = $1', [name]);
      if (!rowCount) throw notFound(name);
    },

    async setEvents(name: string, events: NotificationEvent[]): Promise<NotifierRecord> {
      const { rowCount } = await pool.query('update notifiers set events = $2, updated_at = now() where name = $1', [name, [...new Set(events)]]);
      if (!rowCount) throw notFound(name);
      return store.get(name);
    },

    /** The notifiers a database's events go to: replaces the previous set (an empty list detaches all). */
    async attach(database: string, names: string[]): Promise<string[]> {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const db = await client.query('select id from databases where name = $1 for update', [database]);
        if (!db.rows[0]) throw new HindsightError('not_found', `database "${database}" is not registered (hindsight db list shows the registered ones)`);
        const ids: number[] = [];
        for (const name of names) {
          const found = await client.query('select id from notifiers where name = $1', [name]);
          if (!found.rows[0]) throw notFound(name);
          ids.push(Number(found.rows[0].id));
        }
        await client.query('delete from database_notifiers where database_id = $1', [db.rows[0].id]);
        for (const id of ids) {
          await client.query('insert into database_notifiers (database_id, notifier_id) values ($1, $2) on conflict do nothing', [db.rows[0].id, id]);
        }
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw error;
      } finally {
        client.release();
      }
      return store.attachedTo(database);
    },

    async attachedTo(database: string): Promise<string[]> {
      const { rows } = await pool.query(
        `select n.name from database_notifiers dn join notifiers n on n.id = dn.notifier_id join databases d on d.id = dn.database_id
         where d.name = $1 order by n.name`,
        [database],
      );
      return rows.map((r) => r.name as string);
    },

    /**
     * Plans the deliveries of a scope's unplanned notifications (a database's, or those of no
     * database when `database` is null): one row per notifier attached to the database (for no
     * database: every notifier of the workspace) whose toggle for the event is on. Returns the
     * scope's deliveries still pending, oldest first. Safe to run concurrently and repeatedly.
     */
    async planDeliveries(database: string | null): Promise<number[]> {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const { rows: planned } = await client.query(
          `update notifications n set planned_at = now()
           where n.planned_at is null and n.id in (
             select x.id from notifications x left join databases d on d.id = x.database_id
             where x.planned_at is null and ($1::text is null and x.database_id is null or d.name = $1)
             for update of x skip locked)
           returning n.id, n.database_id, n.event`,
          [database],
        );
        for (const row of planned) {
          await client.query(
            `insert into notification_deliveries (notification_id, notifier_id, status)
             select $1, nf.id, 'pending' from notifiers nf
             where $3 = any(nf.events)
               and (($2::bigint is null and nf.workspace_id = 1)
                    or exists (select 1 from database_notifiers dn where dn.notifier_id = nf.id and dn.database_id = $2))
             on conflict (notification_id, notifier_id) do nothing`,
            [row.id, row.database_id, row.event],
          );
        }
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw error;
      } finally {
        client.release();
      }
      const { rows } = await pool.query(
        `select dl.id from notification_deliveries dl join notifications x on x.id = dl.notification_id left join databases d on d.id = x.database_id
         where dl.status = 'pending' and ($1::text is null and x.database_id is null or d.name = $1) order by dl.id limit 500`,
        [database],
      );
      return rows.map((r) => Number(r.id));
    },

    async deliveryWork(deliveryId: number): Promise<DeliveryWork> {
      const { rows } = await pool.query(
        `select dl.id, dl.status, nf.name, nf.config, nf.sealed_secrets, x.event, x.message, x.created_at, d.name as database
         from notification_deliveries dl join notifiers nf on nf.id = dl.notifier_id join notifications x on x.id = dl.notification_id
         left join databases d on d.id = x.database_id where dl.id = $1`,
        [deliveryId],
      );
      const row = rows[0];
      if (!row) throw new HindsightError('not_found', `delivery ${deliveryId} does not exist (its notifier or database was removed)`);
      return {
        deliveryId, status: row.status, notifierName: row.name, config: unsealConfig(row),
        notification: { event: row.event, database: row.database, message: row.message, createdAt: row.created_at },
      };
    },

    /** One attempt's outcome. Success settles the delivery and the notifier's health at once. */
    async recordAttempt(deliveryId: number, outcome: { ok: true; response: string } | { ok: false; error: string }): Promise<void> {
      if (outcome.ok) {
        await pool.query(
          `with d as (update notification_deliveries set attempts = attempts + 1, status = 'sent', response = $2, updated_at = now()
                      where id = $1 returning notifier_id)
           update notifiers set consecutive_failures = 0, last_success_at = now() where id in (select notifier_id from d)`,
          [deliveryId, outcome.response],
        );
      } else {
        await pool.query(
          `update notification_deliveries set attempts = attempts + 1, last_error = $2, updated_at = now() where id = $1`,
          [deliveryId, outcome.error],
        );
      }
    },

    /** Retries are exhausted (or the error is permanent): the delivery failed and the notifier is worse off. */
    async failDelivery(deliveryId: number, error: string): Promise<void> {
      await pool.query(
        `with d as (update notification_deliveries set status = 'failed', last_error = coalesce($2, last_error), updated_at = now()
                    where id = $1 and status = 'pending' returning notifier_id)
         update notifiers set consecutive_failures = consecutive_failures + 1, last_error = $2, last_failure_at = now()
         where id in (select notifier_id from d)`,
        [deliveryId, error],
      );
    },

    async deliveries(options: { notifier?: string; database?: string; limit?: number } = {}): Promise<DeliveryRecord[]> {
      const { rows } = await pool.query(
        `select dl.*, nf.name as notifier_name, x.event, x.message, d.name as database
         from notification_deliveries dl join notifiers nf on nf.id = dl.notifier_id join notifications x on x.id = dl.notification_id
         left join databases d on d.id = x.database_id
         where ($1::text is null or nf.name = $1) and ($2::text is null or d.name = $2)
         order by dl.id desc limit $3`,
        [options.notifier ?? null, options.database ?? null, options.limit ?? 100],
      );
      return rows.map(toDelivery);
    },

    /** Scopes (database names; null for notifications of no database) with work that no wake-up picked up. */
    async scopesWithUndelivered(olderThanSeconds: number): Promise<Array<string | null>> {
      const { rows } = await pool.query(
        `select distinct d.name from notifications x left join databases d on d.id = x.database_id
         where x.created_at < now() - make_interval(secs => $1) and (x.planned_at is null
           or exists (select 1 from notification_deliveries dl where dl.notification_id = x.id and dl.status = 'pending'
                      and dl.updated_at < now() - make_interval(secs => $1)))`,
        [olderThanSeconds],
      );
      return rows.map((r) => (r.name as string | null) ?? null);
    },

    async setOverdueHours(database: string, hours: number | null): Promise<void> {
      const { rowCount } = await pool.query('update databases set backup_overdue_hours = $2 where name = $1', [database, hours]);
      if (!rowCount) throw new HindsightError('not_found', `database "${database}" is not registered (hindsight db list shows the registered ones)`);
    },

    async overdueHours(database: string): Promise<number | null> {
      const { rows } = await pool.query('select backup_overdue_hours from databases where name = $1', [database]);
      if (!rows[0]) throw new HindsightError('not_found', `database "${database}" is not registered`);
      return rows[0].backup_overdue_hours;
    },

    /** Databases with a threshold whose newest complete (or partial) backup is older than it, or that never had one. */
    async overdueDatabases(now: Date): Promise<OverdueDatabase[]> {
      const { rows } = await pool.query(
        `select d.name, d.backup_overdue_hours as hours, d.created_at, b.id as backup_id, b.finished_at
         from databases d
         left join lateral (select id, coalesce(finished_at, started_at) as finished_at from backups
                            where database_id = d.id and status in ('complete', 'partial') order by coalesce(finished_at, started_at) desc limit 1) b on true
         where d.backup_overdue_hours is not null
           and coalesce(b.finished_at, d.created_at) < $1::timestamptz - make_interval(secs => d.backup_overdue_hours * 3600)
         order by d.name`,
        [now],
      );
      return rows.map((r) => ({
        database: r.name, thresholdHours: r.hours, lastBackupId: r.backup_id, lastBackupAt: r.finished_at, since: r.finished_at ?? r.created_at,
      }));
    },
  };
  return store;
}

export type NotifierStore = ReturnType<typeof createNotifierStore>;
