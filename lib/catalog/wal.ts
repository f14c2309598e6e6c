import type pg from 'pg';
import { seal, unseal } from '../crypto/sealed.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { sealedContexts } from './sealed-columns.ts';
import { HindsightError } from '../errors.ts';
import { parsePgUrl, type PgTarget } from '../pg/connection.ts';
import type { Lsn } from '../wal/lsn.ts';

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
}

export interface WalSegmentRecord {
  database: string;
  systemIdentifier: string;
  timeline: number;
  segno: bigint;
  name: string;
  startLsn: Lsn;
  /** Exclusive end of the bytes stored. */
  endLsn: Lsn;
  complete: boolean;
  sizeBytes: number;
  storedBytes: number;
  sha256: string;
  storageName: string;
  objectKey: string;
  receivedAt: Date;
}

export interface WalHistoryRecord {
  database: string;
  systemIdentifier: string;
  timeline: number;
  content: string;
  storageName: string;
  objectKey: string;
  receivedAt: Date;
}

export type BaseBackupStatus = 'running' | 'complete' | 'failed' | 'deleted';
export type BaseBackupKind = 'full' | 'incremental';

export interface BaseBackupRecord {
  id: string;
  database: string;
  systemIdentifier: string | null;
  timeline: number | null;
  startLsn: Lsn | null;
  stopLsn: Lsn | null;
  startTime: Date;
  stopTime: Date | null;
  status: BaseBackupStatus;
  storageName: string;
  objectKey: string;
  sizeBytes: number | null;
  storedBytes: number | null;
  sha256: string | null;
  source: 'primary' | 'standby';
  workflowId: string | null;
  error: string | null;
  createdAt: Date;
  kind: BaseBackupKind;
  /** The base backup an incremental one was taken against (null for a full). */
  parentId: string | null;
  /** This backup's own backup_manifest, stored beside it: what the next incremental is taken against. */
  manifestKey: string | null;
  /** Why a full was taken where an incremental could have been. */
  kindReason: string | null;
}

export interface DurablePosition {
  systemIdentifier: string;
  timeline: number;
  /** Exclusive end of the newest WAL byte held in storage. */
  lsn: Lsn;
  receivedAt: Date;
}

const big = (v: string | number | null): bigint | null => (v === null ? null : BigInt(v));
const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toSegment(row: any): WalSegmentRecord {
  return {
    database: row.database_name, systemIdentifier: row.system_identifier, timeline: row.timeline, segno: BigInt(row.segno), name: row.name,
    startLsn: BigInt(row.start_lsn), endLsn: BigInt(row.end_lsn), complete: row.complete, sizeBytes: Number(row.size_bytes),
    storedBytes: Number(row.stored_bytes), sha256: row.sha256, storageName: row.storage_name, objectKey: row.object_key, receivedAt: row.received_at,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toBaseBackup(row: any): BaseBackupRecord {
  return {
    id: row.id, database: row.database_name, systemIdentifier: row.system_identifier, timeline: row.timeline,
    startLsn: big(row.start_lsn), stopLsn: big(row.stop_lsn), startTime: row.start_time, stopTime: row.stop_time, status: row.status,
    storageName: row.storage_name, objectKey: row.object_key, sizeBytes: num(row.size_bytes), storedBytes: num(row.stored_bytes),
    sha256: row.sha256, source: row.source, workflowId: row.workflow_id, error: row.error, createdAt: row.created_at,
    kind: row.kind, parentId: row.parent_id, manifestKey: row.manifest_key, kindReason: row.kind_reason,
  };
}

const segmentSelect = 'select s.*, d.name as database_name from wal_segments s join databases d on d.id = s.database_id';
const baseSelect = 'select b.*, d.name as database_name from base_backups b join databases d on d.id = b.database_id';

export interface SegmentUpload {
  database: string;
  systemIdentifier: string;
  timeline: number;
  segno: bigint;
  name: string;
  startLsn: Lsn;
  endLsn: Lsn;
  complete: boolean;
  sizeBytes: number;
  storedBytes: number;
  sha256: string;
  storageName: string;
  objectKey: string;
}

/** The WAL archive and base backups of PITR-enabled databases. */
export function createWalStore(pool: pg.Pool, keys: Keyring) {
  const baseUrlContext = sealedContexts.databaseBaseBackupUrl;

  async function databaseId(name: string): Promise<number> {
    const { rows } = await pool.query('select id from databases where name = $1', [name]);
    if (!rows[0]) throw new HindsightError('not_found', `database "${name}" is not registered`);
    return Number(rows[0].id);
  }

  const store = {
    async config(database: string): Promise<PitrConfig> {
      const { rows } = await pool.query(
        `select d.*, (select s.name from database_storages ds join storages s on s.id = ds.storage_id
                       where ds.database_id = d.id order by ds.position limit 1) as first_storage
         from databases d where d.name = $1`,
        [database],
      );
      const row = rows[0];
      if (!row) throw new HindsightError('not_found', `database "${database}" is not registered`);
      return {
        databaseId: Number(row.id), database: row.name, enabled: row.pitr_enabled, slot: row.pitr_slot,
        slotMaxBytes: num(row.pitr_slot_max_bytes), partialIntervalMs: row.pitr_partial_interval_ms,
        baseBackupSchedule: row.base_backup_schedule, hasBaseBackupUrl: row.sealed_base_backup_url !== null, agent: row.agent,
        systemIdentifier: row.system_identifier, walSegmentSize: row.wal_segment_size, storageName: row.first_storage,
        baseBackupFullEvery: row.base_backup_full_every,
      };
    },

    /** Changes only the settings given; `baseBackupUrl` is sealed like the database password. */
    async updateSettings(database: string, settings: {
      enabled?: boolean; slot?: string | null; slotMaxBytes?: number | null; partialIntervalMs?: number;
      baseBackupSchedule?: string | null; baseBackupUrl?: string | null; agent?: string | null; baseBackupFullEvery?: number;
    }): Promise<PitrConfig> {
      const id = await databaseId(database);
      const sets: string[] = [];
      const values: unknown[] = [id];
      const set = (column: string, value: unknown) => { values.push(value); sets.push(`${column} = $${values.length}`); };
      if (settings.enabled !== undefined) set('pitr_enabled', settings.enabled);
      if (settings.slot !== undefined) set('pitr_slot', settings.slot);
      if (settings.slotMaxBytes !== undefined) set('pitr_slot_max_bytes', settings.slotMaxBytes);
      if (settings.partialIntervalMs !== undefined) set('pitr_partial_interval_ms', settings.partialIntervalMs);
      if (settings.baseBackupSchedule !== undefined) set('base_backup_schedule', settings.baseBackupSchedule);
      if (settings.agent !== undefined) set('agent', settings.agent);
      if (settings.baseBackupFullEvery !== undefined) set('base_backup_full_every', settings.baseBackupFullEvery);
      if (settings.baseBackupUrl !== undefined) {
        if (settings.baseBackupUrl !== null) parsePgUrl(settings.baseBackupUrl);
        set('sealed_base_backup_url', settings.baseBackupUrl === null ? null : seal(keys.current(), settings.baseBackupUrl, baseUrlContext(database)));
      }
      if (sets.length > 0) await pool.query(`update databases set ${sets.join(', ')} where id = $1`, values);
      return store.config(database);
    },

    /** The standby to take base backups from, unsealed: for activities only. */
    async baseBackupTarget(database: string): Promise<PgTarget | null> {
      const { rows } = await pool.query('select sealed_base_backup_url from databases where name = $1', [database]);
      if (!rows[0]) throw new HindsightError('not_found', `database "${database}" is not registered`);
      const sealed = rows[0].sealed_base_backup_url as string | null;
      return sealed ? parsePgUrl(unseal(keys.resolve, sealed, baseUrlContext(database))) : null;
    },

    /**
     * Records the server's identity the first time; afterwards a different system identifier means
     * another cluster answers at this address (a restore, a failover to a non-replica), and its WAL
     * must not go into this archive.
     */
    async recordServerIdentity(database: string, systemIdentifier: string, walSegmentSize: number): Promise<void> {
      const id = await databaseId(database);
      await pool.query(
        'update databases set system_identifier = coalesce(system_identifier, $2), wal_segment_size = coalesce(wal_segment_size, $3) where id = $1',
        [id, systemIdentifier, walSegmentSize],
      );
      const { rows } = await pool.query('select system_identifier, wal_segment_size from databases where id = $1', [id]);
      const row = rows[0] as { system_identifier: string; wal_segment_size: number };
      if (row.system_identifier !== systemIdentifier) {
        throw new HindsightError('conflict', `database "${database}": the server now reports system identifier ${systemIdentifier} but the WAL archive belongs to ${row.system_identifier}; refusing to mix two clusters in one archive (if the database was rebuilt on purpose, run hindsight db pitr <db> off, then on, to start a new archive)`);
      }
      if (row.wal_segment_size !== walSegmentSize) {
        throw new HindsightError('conflict', `database "${database}": the server reports wal_segment_size ${walSegmentSize} but the archive was recorded with ${row.wal_segment_size}`);
      }
    },

    /** Starts a new archive identity (after PITR was turned off and on for a rebuilt server). */
    async forgetServerIdentity(database: string): Promise<void> {
      await pool.query('update databases set system_identifier = null, wal_segment_size = null where name = $1', [database]);
    },

    /**
     * Records an upload. A partial upload updates its row while the segment grows; completing marks
     * it complete. A complete segment is never replaced by different bytes: that would be a second
     * server writing the same key, and is refused.
     */
    async recordSegment(upload: SegmentUpload): Promise<void> {
      const id = await databaseId(upload.database);
      const { rows } = await pool.query(
        `insert into wal_segments (database_id, system_identifier, timeline, segno, name, start_lsn, end_lsn, complete, size_bytes, stored_bytes, sha256, storage_name, object_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (database_id, system_identifier, timeline, segno) do update set
           end_lsn = excluded.end_lsn, complete = excluded.complete, size_bytes = excluded.size_bytes, stored_bytes = excluded.stored_bytes,
           sha256 = excluded.sha256, storage_name = excluded.storage_name, object_key = excluded.object_key, received_at = now()
         where not wal_segments.complete and (excluded.complete or excluded.end_lsn >= wal_segments.end_lsn)
         returning 1`,
        [id, upload.systemIdentifier, upload.timeline, upload.segno.toString(), upload.name, upload.startLsn.toString(), upload.endLsn.toString(),
          upload.complete, upload.sizeBytes, upload.storedBytes, upload.sha256, upload.storageName, upload.objectKey],
      );
      if (rows.length > 0) return;
      const existing = (await pool.query(`${segmentSelect} where s.database_id = $1 and s.system_identifier = $2 and s.timeline = $3 and s.segno = $4`,
        [id, upload.systemIdentifier, upload.timeline, upload.segno.toString()])).rows[0];
      const current = existing ? toSegment(existing) : undefined;
      // The same bytes again (a retried upload) are fine; a partial behind a complete one is stale.
      if (current?.complete && (!upload.complete || current.sha256 === upload.sha256)) return;
      if (current && !current.complete && !upload.complete) return;
      throw new HindsightError('conflict', `database "${upload.database}": WAL segment ${upload.name} of system ${upload.systemIdentifier} is already archived with different content (sha256 ${current?.sha256}); refusing to overwrite it with ${upload.sha256} (two servers are writing one archive)`);
    },

    async segmentsOf(database: string, options: { systemIdentifier?: string; timeline?: number } = {}): Promise<WalSegmentRecord[]> {
      const { rows } = await pool.query(
        `${segmentSelect} where d.name = $1 and ($2::text is null or s.system_identifier = $2) and ($3::int is null or s.timeline = $3)
         order by s.system_identifier, s.timeline, s.segno`,
        [database, options.systemIdentifier ?? null, options.timeline ?? null],
      );
      return rows.map(toSegment);
    },

    async getSegment(database: string, systemIdentifier: string, timeline: number, segno: bigint): Promise<WalSegmentRecord | undefined> {
      const { rows } = await pool.query(`${segmentSelect} where d.name = $1 and s.system_identifier = $2 and s.timeline = $3 and s.segno = $4`,
        [database, systemIdentifier, timeline, segno.toString()]);
      return rows[0] ? toSegment(rows[0]) : undefined;
    },

    /** Forgets a segment's row (the object is already gone from storage). */
    async removeSegment(database: string, systemIdentifier: string, timeline: number, segno: bigint): Promise<void> {
      await pool.query(
        'delete from wal_segments s using databases d where d.id = s.database_id and d.name = $1 and s.system_identifier = $2 and s.timeline = $3 and s.segno = $4',
        [database, systemIdentifier, timeline, segno.toString()],
      );
    },

    /** Records a timeline history file; the same timeline with other content is refused. */
    async recordHistory(input: { database: string; systemIdentifier: string; timeline: number; content: string; storageName: string; objectKey: string }): Promise<void> {
      const id = await databaseId(input.database);
      const { rows } = await pool.query(
        `insert into wal_histories (database_id, system_identifier, timeline, content, storage_name, object_key) values ($1, $2, $3, $4, $5, $6)
         on conflict (database_id, system_identifier, timeline) do update set received_at = wal_histories.received_at
         returning content`,
        [id, input.systemIdentifier, input.timeline, input.content, input.storageName, input.objectKey],
      );
      if (rows[0].content !== input.content) {
        throw new HindsightError('conflict', `database "${input.database}": timeline ${input.timeline} history of system ${input.systemIdentifier} is already archived with different content; refusing to overwrite it (two servers are writing one archive)`);
      }
    },

    async historiesOf(database: string, options: { systemIdentifier?: string } = {}): Promise<WalHistoryRecord[]> {
      const { rows } = await pool.query(
        `select h.*, d.name as database_name from wal_histories h join databases d on d.id = h.database_id
         where d.name = $1 and ($2::text is null or h.system_identifier = $2) order by h.system_identifier, h.timeline`,
        [database, options.systemIdentifier ?? null],
      );
      return rows.map((r) => ({
        database: r.database_name, systemIdentifier: r.system_identifier, timeline: r.timeline, content: r.content,
        storageName: r.storage_name, objectKey: r.object_key, receivedAt: r.received_at,
      }));
    },

    /** The newest WAL byte held in storage (on the highest timeline) and when it arrived. */
    async latestDurable(database: string, systemIdentifier?: string): Promise<DurablePosition | undefined> {
      const { rows } = await pool.query(
        `${segmentSelect} where d.name = $1 and ($2::text is null or s.system_identifier = $2)
         order by s.timeline desc, s.end_lsn desc limit 1`,
        [database, systemIdentifier ?? null],
      );
      if (!rows[0]) return undefined;
      const s = toSegment(rows[0]);
      return { systemIdentifier: s.systemIdentifier, timeline: s.timeline, lsn: s.endLsn, receivedAt: s.receivedAt };
    },

    /** Starts (or, for a retried run, restarts) a base backup's row; a retry may change its kind. */
    async beginBaseBackup(input: {
      id: string; database: string; storageName: string; objectKey: string; source: 'primary' | 'standby'; workflowId: string | null;
      kind?: BaseBackupKind; parentId?: string | null; manifestKey?: string | null; kindReason?: string | null;
    }): Promise<void> {
      const id = await databaseId(input.database);
      await pool.query(
        `insert into base_backups (id, database_id, status, storage_name, object_key, source, workflow_id, kind, parent_id, manifest_key, kind_reason)
         values ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (id) do update set status = 'running', error = null, start_time = now(), kind = excluded.kind, parent_id = excluded.parent_id,
           manifest_key = excluded.manifest_key, kind_reason = excluded.kind_reason
         where base_backups.status in ('running', 'failed')`,
        [input.id, id, input.storageName, input.objectKey, input.source, input.workflowId, input.kind ?? 'full', input.parentId ?? null, input.manifestKey ?? null, input.kindReason ?? null],
      );
    },

    async completeBaseBackup(id: string, result: {
      systemIdentifier: string; timeline: number; startLsn: Lsn; stopLsn: Lsn; startTime: Date; stopTime: Date;
      sizeBytes: number; storedBytes: number; sha256: string;
    }): Promise<void> {
      await pool.query(
        `update base_backups set status = 'complete', system_identifier = $2, timeline = $3, start_lsn = $4, stop_lsn = $5, start_time = $6, stop_time = $7,
           size_bytes = $8, stored_bytes = $9, sha256 = $10, error = null where id = $1`,
        [id, result.systemIdentifier, result.timeline, result.startLsn.toString(), result.stopLsn.toString(), result.startTime, result.stopTime,
          result.sizeBytes, result.storedBytes, result.sha256],
      );
    },

    async failBaseBackup(id: string, error: string): Promise<void> {
      await pool.query(`update base_backups set status = 'failed', error = $2, stop_time = now() where id = $1 and status = 'running'`, [id, error]);
    },

    async markBaseBackupDeleted(id: string): Promise<void> {
      await pool.query(`update base_backups set status = 'deleted' where id = $1`, [id]);
    },

    async getBaseBackup(id: string): Promise<BaseBackupRecord> {
      const { rows } = await pool.query(`${baseSelect} where b.id = $1`, [id]);
      if (!rows[0]) throw new HindsightError('not_found', `base backup "${id}" does not exist`);
      return toBaseBackup(rows[0]);
    },

    /** Newest first; pass a status to keep only those (e.g. 'complete' for restores). */
    async baseBackupsOf(database: string, options: { status?: BaseBackupStatus } = {}): Promise<BaseBackupRecord[]> {
      const { rows } = await pool.query(
        `${baseSelect} where d.name = $1 and ($2::text is null or b.status = $2) order by b.start_time desc`,
        [database, options.status ?? null],
      );
      return rows.map(toBaseBackup);
    },

    async pitrDatabases(): Promise<string[]> {
      const { rows } = await pool.query('select name from databases where pitr_enabled order by name');
      return rows.map((r) => r.name as string);
    },
  };
  return store;
}

export type WalStore = ReturnType<typeof createWalStore>;
