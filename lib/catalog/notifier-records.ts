import type pg from 'pg';
import type { Keyring } from '../crypto/keyring.ts';
import { HindsightError } from '../errors.ts';
import {
  defaultNotifierEvents,
  describeNotifier,
  notifierConfigSchema,
  splitNotifierSecrets,
  type NotificationEvent,
  type NotifierConfig,
  type NotifierType,
} from '../notify/config.ts';
import { allRows, databaseNotRegistered, withTransaction, type Queryable, type SealingDb } from './db.ts';
import { fieldsOf, type RowOf } from './rows.ts';
import { openSealedConfig, sealSecrets } from './sealed-config.ts';
import { sealedContexts } from './sealed-columns.ts';

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

/** The columns a sealed configuration is opened from. */
export interface SealedNotifierRow {
  name: string;
  config: Record<string, unknown>;
  sealed_secrets: string | null;
}

/** The columns that pass to a NotifierRecord as they are. */
const notifierColumns = [
  'name',
  'type',
  'summary',
  'events',
  'consecutive_failures',
  'last_error',
  'last_success_at',
  'last_failure_at',
  'created_at',
] as const;

interface NotifierRow extends SealedNotifierRow, RowOf<NotifierRecord, (typeof notifierColumns)[number]> {
  id: string;
  workspace_id: string;
  databases: string[] | null;
}

function toNotifier(row: NotifierRow): NotifierRecord {
  return {
    ...fieldsOf(row, notifierColumns),
    id: Number(row.id),
    workspaceId: Number(row.workspace_id),
    settings: row.config,
    hasSecrets: row.sealed_secrets !== null,
    databases: row.databases ?? [],
  };
}

const notifierSelect = `
  select n.*, array(select d.name from database_notifiers dn join databases d on d.id = dn.database_id
                    where dn.notifier_id = n.id order by d.name) as databases
  from notifiers n`;

export const notifierNotFound = (name: string) =>
  new HindsightError(
    'not_found',
    `notifier "${name}" does not exist (hindsight notifier list shows the configured ones)`,
  );

/** Opens a notifier's sealed secrets and validates the whole configuration again. */
export function unsealNotifierConfig(keys: Keyring, row: SealedNotifierRow): NotifierConfig {
  return openSealedConfig(
    keys,
    { settings: row.config, sealed: row.sealed_secrets, context: sealedContexts.notifierSecrets(row.name) },
    notifierConfigSchema,
    { what: `notifier "${row.name}"`, fix: 'save it again with hindsight notifier add' },
  );
}

/** Saves a notifier (the config already validated); a new one hears the default events. */
export async function upsertNotifier(
  s: SealingDb,
  name: string,
  config: NotifierConfig,
  events?: NotificationEvent[],
  workspaceId = 1,
): Promise<NotifierRecord> {
  const { settings, secrets } = splitNotifierSecrets(config);
  const sealed = sealSecrets(s.keys, secrets, sealedContexts.notifierSecrets(name));
  await s.pool.query(
    `insert into notifiers (name, type, config, sealed_secrets, summary, events, workspace_id)
     values ($1, $2, $3, $4, $5, $6, $8)
     on conflict (name) do update
       set type = excluded.type, config = excluded.config, sealed_secrets = excluded.sealed_secrets,
       summary = excluded.summary, events = coalesce($7, notifiers.events), updated_at = now()`,
    [
      name,
      config.type,
      JSON.stringify(settings),
      sealed,
      describeNotifier(config),
      events ?? defaultNotifierEvents,
      events ?? null,
      workspaceId,
    ],
  );
  return getNotifier(s.pool, name);
}

export async function getNotifier(db: Queryable, name: string): Promise<NotifierRecord> {
  const { rows } = await db.query<NotifierRow>(`${notifierSelect} where n.name = $1`, [name]);
  if (!rows[0]) throw notifierNotFound(name);
  return toNotifier(rows[0]);
}

export async function listNotifiers(db: Queryable): Promise<NotifierRecord[]> {
  return allRows(db, `${notifierSelect} order by n.name`, [], toNotifier);
}

/** The full configuration with secrets unsealed: for sending only, never for a response. */
export async function notifierConfig(s: SealingDb, name: string): Promise<NotifierConfig> {
  const { rows } = await s.pool.query<SealedNotifierRow>(
    'select name, config, sealed_secrets from notifiers where name = $1',
    [name],
  );
  if (!rows[0]) throw notifierNotFound(name);
  return unsealNotifierConfig(s.keys, rows[0]);
}

export async function removeNotifier(db: Queryable, name: string): Promise<void> {
  const { rowCount } = await db.query('delete from notifiers where name = $1', [name]);
  if (!rowCount) throw notifierNotFound(name);
}

export async function setNotifierEvents(
  db: Queryable,
  name: string,
  events: NotificationEvent[],
): Promise<NotifierRecord> {
  const { rowCount } = await db.query('update notifiers set events = $2, updated_at = now() where name = $1', [
    name,
    [...new Set(events)],
  ]);
  if (!rowCount) throw notifierNotFound(name);
  return getNotifier(db, name);
}

/** The notifiers a database's events go to: replaces the previous set (an empty list detaches all). */
export async function attachNotifiers(pool: pg.Pool, database: string, names: string[]): Promise<string[]> {
  await withTransaction(pool, async (tx) => {
    const db = await tx.query<{ id: string }>('select id from databases where name = $1 for update', [database]);
    if (!db.rows[0]) throw databaseNotRegistered(database);
    const ids: number[] = [];
    for (const name of names) {
      const found = await tx.query<{ id: string }>('select id from notifiers where name = $1', [name]);
      if (!found.rows[0]) throw notifierNotFound(name);
      ids.push(Number(found.rows[0].id));
    }
    await tx.query('delete from database_notifiers where database_id = $1', [db.rows[0].id]);
    for (const id of ids) {
      await tx.query(
        'insert into database_notifiers (database_id, notifier_id) values ($1, $2) on conflict do nothing',
        [db.rows[0].id, id],
      );
    }
  });
  return notifiersAttachedTo(pool, database);
}

export async function notifiersAttachedTo(db: Queryable, database: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `select n.name from database_notifiers dn join notifiers n on n.id = dn.notifier_id
     join databases d on d.id = dn.database_id
     where d.name = $1 order by n.name`,
    [database],
  );
  return rows.map((r) => r.name);
}
