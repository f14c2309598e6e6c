import type pg from 'pg';
import { seal, unseal } from '../crypto/sealed.ts';
import { HindsightError } from '../errors.ts';
import { parsePgUrl, type PgTarget } from '../pg/connection.ts';
import { databaseIdOf, num, withTransaction, type Queryable, type SealingDb } from './db.ts';
import { sealedContexts } from './sealed-columns.ts';

/** A database's PITR settings and what its server told us about itself. */
export interface PitrConfig {
  databaseId: number;
  database: string;
  enabled: boolean;
  slot: string | null;
  slotMaxBytes: number | null;
  partialIntervalMs: number;
  baseBackupSchedule: string | null;
  hasBaseBackupUrl: boolean;
  agent: string | null;
  systemIdentifier: string | null;
  walSegmentSize: number | null;
  /** The database's first storage holds its WAL archive and base backups. */
  storageName: string | null;
  /** At most this many base backups per chain, its full included (1: every base backup is a full). */
  baseBackupFullEvery: number;
  /** The database whose archive this one shares (same cluster; migration 014), or null when it archives its own. */
  archiveDatabase: string | null;
  /** Over the slot limit for longer than one check: alert only, or drop and recreate the slot. */
  slotOverLimit: SlotOverLimit;
  /** Confirm WAL to the server only once it is in storage (a synchronous standby). */
  synchronous: boolean;
}

export type SlotOverLimit = 'alert' | 'drop';

export interface PitrSettings {
  enabled?: boolean;
  slot?: string | null;
  slotMaxBytes?: number | null;
  partialIntervalMs?: number;
  baseBackupSchedule?: string | null;
  baseBackupUrl?: string | null;
  agent?: string | null;
  baseBackupFullEvery?: number;
  slotOverLimit?: SlotOverLimit;
  synchronous?: boolean;
}

interface PitrRow {
  id: string;
  name: string;
  pitr_enabled: boolean;
  pitr_slot: string | null;
  pitr_slot_max_bytes: string | null;
  pitr_partial_interval_ms: number;
  base_backup_schedule: string | null;
  sealed_base_backup_url: string | null;
  agent: string | null;
  system_identifier: string | null;
  wal_segment_size: number | null;
  first_storage: string | null;
  base_backup_full_every: number;
  archive_database: string | null;
  pitr_slot_over_limit: SlotOverLimit;
  pitr_synchronous: boolean;
}

export async function pitrConfig(db: Queryable, database: string): Promise<PitrConfig> {
  const { rows } = await db.query<PitrRow>(
    `select d.*, (select s.name from database_storages ds join storages s on s.id = ds.storage_id
                   where ds.database_id = d.id order by ds.position limit 1) as first_storage,
            (select a.name from databases a where a.id = d.pitr_archive_database_id) as archive_database
     from databases d where d.name = $1`,
    [database],
  );
  const row = rows[0];
  if (!row) throw new HindsightError('not_found', `database "${database}" is not registered`);
  return {
    databaseId: Number(row.id),
    database: row.name,
    enabled: row.pitr_enabled,
    slot: row.pitr_slot,
    slotMaxBytes: num(row.pitr_slot_max_bytes),
    partialIntervalMs: row.pitr_partial_interval_ms,
    baseBackupSchedule: row.base_backup_schedule,
    hasBaseBackupUrl: row.sealed_base_backup_url !== null,
    agent: row.agent,
    systemIdentifier: row.system_identifier,
    walSegmentSize: row.wal_segment_size,
    storageName: row.first_storage,
    baseBackupFullEvery: row.base_backup_full_every,
    archiveDatabase: row.archive_database,
    slotOverLimit: row.pitr_slot_over_limit,
    synchronous: row.pitr_synchronous,
  };
}

const settingColumns: Array<[keyof PitrSettings, string]> = [
  ['enabled', 'pitr_enabled'],
  ['slot', 'pitr_slot'],
  ['slotMaxBytes', 'pitr_slot_max_bytes'],
  ['partialIntervalMs', 'pitr_partial_interval_ms'],
  ['baseBackupSchedule', 'base_backup_schedule'],
  ['agent', 'agent'],
  ['baseBackupFullEvery', 'base_backup_full_every'],
  ['slotOverLimit', 'pitr_slot_over_limit'],
  ['synchronous', 'pitr_synchronous'],
];

/** Changes only the settings given; `baseBackupUrl` is sealed like the database password. */
export async function updatePitrSettings(s: SealingDb, database: string, settings: PitrSettings): Promise<PitrConfig> {
  const id = await databaseIdOf(s.pool, database);
  const sets: string[] = [];
  const values: unknown[] = [id];
  const set = (column: string, value: unknown) => {
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  };
  for (const [field, column] of settingColumns) if (settings[field] !== undefined) set(column, settings[field]);
  const url = settings.baseBackupUrl;
  if (url !== undefined) {
    if (url !== null) parsePgUrl(url);
    set(
      'sealed_base_backup_url',
      url === null ? null : seal(s.keys.current(), url, sealedContexts.databaseBaseBackupUrl(database)),
    );
  }
  if (sets.length > 0) await s.pool.query(`update databases set ${sets.join(', ')} where id = $1`, values);
  return pitrConfig(s.pool, database);
}

/** The standby to take base backups from, unsealed: for activities only. */
export async function baseBackupTarget(s: SealingDb, database: string): Promise<PgTarget | null> {
  const { rows } = await s.pool.query<{ sealed_base_backup_url: string | null }>(
    'select sealed_base_backup_url from databases where name = $1',
    [database],
  );
  if (!rows[0]) throw new HindsightError('not_found', `database "${database}" is not registered`);
  const sealed = rows[0].sealed_base_backup_url;
  return sealed ? parsePgUrl(unseal(s.keys.resolve, sealed, sealedContexts.databaseBaseBackupUrl(database))) : null;
}

/**
 * Records the server's identity the first time; afterwards a different system identifier means
 * another cluster answers at this address (a restore, a failover to a non-replica), and its WAL
 * must not go into this archive.
 */
export async function recordServerIdentity(
  pool: pg.Pool,
  database: string,
  systemIdentifier: string,
  walSegmentSize: number,
): Promise<void> {
  const id = await databaseIdOf(pool, database);
  const row = await withTransaction(pool, async (tx) => {
    await tx.query(
      'update databases set system_identifier = coalesce(system_identifier, $2), wal_segment_size = coalesce(wal_segment_size, $3) where id = $1',
      [id, systemIdentifier, walSegmentSize],
    );
    const { rows } = await tx.query<{ system_identifier: string; wal_segment_size: number }>(
      'select system_identifier, wal_segment_size from databases where id = $1',
      [id],
    );
    return rows[0]!;
  });
  if (row.system_identifier !== systemIdentifier) {
    throw new HindsightError(
      'conflict',
      `database "${database}": the server now reports system identifier ${systemIdentifier} but the WAL archive belongs to ${row.system_identifier}; refusing to mix two clusters in one archive (if the database was rebuilt on purpose, run hindsight db pitr <db> off, then on, to start a new archive)`,
    );
  }
  if (row.wal_segment_size !== walSegmentSize) {
    throw new HindsightError(
      'conflict',
      `database "${database}": the server reports wal_segment_size ${walSegmentSize} but the archive was recorded with ${row.wal_segment_size}`,
    );
  }
}

/** Starts a new archive identity (after PITR was turned off and on for a rebuilt server). */
export async function forgetServerIdentity(db: Queryable, database: string): Promise<void> {
  await db.query('update databases set system_identifier = null, wal_segment_size = null where name = $1', [database]);
}

export async function pitrDatabases(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>('select name from databases where pitr_enabled order by name');
  return rows.map((r) => r.name);
}

/**
 * Another database with PITR on that archives the cluster of this system identifier, if any: WAL
 * belongs to a whole cluster, so two databases of one cluster would write the same segments. A
 * database that shares another's archive does not archive.
 */
export async function otherArchiverOfSystem(
  db: Queryable,
  systemIdentifier: string,
  database: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ name: string }>(
    'select name from databases where pitr_enabled and pitr_archive_database_id is null and system_identifier = $1 and name <> $2',
    [systemIdentifier, database],
  );
  return rows[0]?.name;
}
