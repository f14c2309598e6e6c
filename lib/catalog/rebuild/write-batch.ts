/**
 * The bulk writes of a rebuild: many backups, or many groups of WAL segments, in one statement
 * each (rows passed as arrays and spread with `unnest`), with the same effect as the row-by-row
 * writes of ./write.ts run in the same order: nothing recorded twice, a complete segment replacing
 * a partial row and nothing else overwritten. A chunk is all or nothing; the caller falls back to
 * the row-by-row writes for a chunk that fails, so that one bad group does not cost the others.
 */
import type { BackupManifest } from '../../backup/manifest.ts';
import type pg from 'pg';
import { databaseIdOf, databaseNotRegistered, withTransaction, type Queryable } from '../db.ts';
import { chunked } from './bounded.ts';
import type { SegmentRow } from './plan.ts';
import { otherBackupConflict, REBUILT_TRIGGER } from './write.ts';

/** Where a chunk's segments belong: the archive's database, system and the storage holding them. */
export interface SegmentsAt {
  database: string;
  systemIdentifier: string;
  storageName: string;
}

/** Records `rows` (no two of the same segment); returns how many rows are new or completed a partial one. */
export async function insertSegmentChunk(db: Queryable, at: SegmentsAt, rows: SegmentRow[]): Promise<number> {
  const databaseId = await databaseIdOf(db, at.database);
  const column = <V>(pick: (s: SegmentRow) => V): V[] => rows.map(pick);
  const { rowCount } = await db.query(
    `insert into wal_segments (database_id, system_identifier, timeline, segno, name, start_lsn, end_lsn, complete,
                               size_bytes, stored_bytes, sha256, storage_name, object_key, received_at)
     select $1, $2, t.timeline, t.segno, t.name, t.start_lsn, t.end_lsn, t.complete,
            t.size_bytes, t.stored_bytes, t.sha256, $3, t.object_key, t.received_at
       from unnest($4::integer[], $5::bigint[], $6::text[], $7::bigint[], $8::bigint[], $9::boolean[],
                   $10::bigint[], $11::bigint[], $12::text[], $13::text[], $14::timestamptz[])
         as t(timeline, segno, name, start_lsn, end_lsn, complete, size_bytes, stored_bytes, sha256, object_key, received_at)
     on conflict (database_id, system_identifier, timeline, segno) do update set
       end_lsn = excluded.end_lsn, complete = true, size_bytes = excluded.size_bytes, stored_bytes = excluded.stored_bytes,
       sha256 = excluded.sha256, storage_name = excluded.storage_name, object_key = excluded.object_key,
       received_at = excluded.received_at
     where excluded.complete and not wal_segments.complete`,
    [
      databaseId,
      at.systemIdentifier,
      at.storageName,
      column((s) => s.timeline),
      column((s) => s.segno.toString()),
      column((s) => s.name),
      column((s) => s.startLsn.toString()),
      column((s) => s.endLsn.toString()),
      column((s) => s.complete),
      column((s) => s.sizeBytes),
      column((s) => s.storedBytes),
      column((s) => s.sha256),
      column((s) => s.objectKey),
      column((s) => s.receivedAt.toISOString()),
    ],
  );
  return rowCount ?? 0;
}

/** The row a segment writes: two segments with the same key are the same row. */
export const segmentRowKey = (s: SegmentRow): string => `${s.timeline}/${s.segno}`;

/**
 * Records one group of segments in one transaction, as if row by row: a segment the group holds
 * twice goes into a later statement, where the first one's row decides. Returns how many rows are new.
 */
export async function insertRebuiltSegments(pool: pg.Pool, at: SegmentsAt, group: SegmentRow[]): Promise<number> {
  return withTransaction(pool, async (tx) => {
    let added = 0;
    for (const rows of chunked(group, group.length, { keys: (s) => [segmentRowKey(s)] }))
      added += await insertSegmentChunk(tx, at, rows);
    return added;
  });
}

export interface BackupChunkResult {
  /** Backup ids whose backup row, and whose copy in the storage, this chunk added. */
  backups: Set<string>;
  copies: Set<string>;
  /** Manifests refused, with the reason (a backup id already recorded as another backup). */
  refused: Array<{ manifest: BackupManifest; reason: string }>;
}

/** The ids of the databases `manifests` name; an unregistered one fails the chunk (the fallback names it). */
async function databaseIds(db: Queryable, manifests: BackupManifest[]): Promise<Map<string, number>> {
  const names = [...new Set(manifests.map((m) => m.database))];
  const { rows } = await db.query<{ id: string; name: string }>(
    'select id, name from databases where name = any($1::text[])',
    [names],
  );
  const ids = new Map(rows.map((r) => [r.name, Number(r.id)]));
  const unknown = names.find((n) => !ids.has(n));
  if (unknown !== undefined) throw databaseNotRegistered(unknown);
  return ids;
}

/** Those of `manifests` whose id is not recorded as another backup; the others land in `refused`. */
async function acceptable(
  db: Queryable,
  manifests: BackupManifest[],
  ids: Map<string, number>,
  refused: BackupChunkResult['refused'],
): Promise<BackupManifest[]> {
  const { rows } = await db.query<{ id: string; database_id: string; sha256: string | null }>(
    'select id, database_id, sha256 from backups where id = any($1::text[])',
    [manifests.map((m) => m.backupId)],
  );
  const recorded = new Map(rows.map((r) => [r.id, r]));
  return manifests.filter((manifest) => {
    const conflict = otherBackupConflict(ids.get(manifest.database)!, manifest, recorded.get(manifest.backupId));
    if (conflict) refused.push({ manifest, reason: conflict.message });
    return !conflict;
  });
}

/**
 * Records backups found in storage (no two with the same id) and their copy in `storageId`, in the
 * caller's transaction. Like adoption (lib/catalog/adopted-backups.ts), the object's SHA-256 stays
 * unrecorded: a restore then insists on the identity its header authenticates.
 */
export async function insertBackupChunk(
  tx: Queryable,
  manifests: BackupManifest[],
  storageId: number,
): Promise<BackupChunkResult> {
  const result: BackupChunkResult = { backups: new Set(), copies: new Set(), refused: [] };
  const ids = await databaseIds(tx, manifests);
  const taken = await acceptable(tx, manifests, ids, result.refused);
  if (taken.length === 0) return result;
  const column = <V>(pick: (m: BackupManifest) => V): V[] => taken.map(pick);
  const added = await tx.query<{ id: string }>(
    `insert into backups (id, database_id, workflow_id, status, trigger, started_at, finished_at, object_key,
                          size_bytes, dump_bytes, sha256, compression, server_version, tool_version, row_counts)
     select t.id, t.database_id, $1 || '/' || t.database_name, 'complete', $1, t.started_at, t.finished_at, t.object_key,
            t.size_bytes, t.dump_bytes, t.sha256, t.compression, t.server_version, t.tool_version, t.row_counts::jsonb
       from unnest($2::text[], $3::bigint[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[],
                   $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
         as t(id, database_id, database_name, started_at, finished_at, object_key, size_bytes, dump_bytes, sha256,
              compression, server_version, tool_version, row_counts)
     on conflict (id) do nothing returning id`,
    [
      REBUILT_TRIGGER,
      column((m) => m.backupId),
      column((m) => ids.get(m.database)!),
      column((m) => m.database),
      column((m) => m.startedAt),
      column((m) => m.finishedAt),
      column((m) => m.object.key),
      column((m) => m.object.sizeBytes),
      column((m) => m.dump.sizeBytes),
      column((m) => m.dump.sha256),
      column((m) => `${m.tool.compression.algorithm}:${m.tool.compression.level}`),
      column((m) => m.source.serverVersion),
      column((m) => m.tool.version),
      column((m) => JSON.stringify(m.tables)),
    ],
  );
  const copies = await tx.query<{ backup_id: string }>(
    `insert into backup_copies (backup_id, storage_id, status, size_bytes)
     select t.id, $1, 'complete', t.size_bytes from unnest($2::text[], $3::bigint[]) as t(id, size_bytes)
     on conflict (backup_id, storage_id) do nothing returning backup_id`,
    [storageId, column((m) => m.backupId), column((m) => m.object.sizeBytes)],
  );
  result.backups = new Set(added.rows.map((r) => r.id));
  result.copies = new Set(copies.rows.map((r) => r.backup_id));
  return result;
}
