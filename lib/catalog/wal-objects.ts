import { HindsightError } from '../errors.ts';
import type { Lsn } from '../wal/lsn.ts';
import { allRows, databaseIdOf, firstRow, type Queryable } from './db.ts';
import { fieldsOf, valuesOf } from './rows.ts';

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

/** What an upload reports: a segment's row before it is received. */
export type SegmentUpload = Omit<WalSegmentRecord, 'receivedAt'>;

export interface WalHistoryRecord {
  database: string;
  systemIdentifier: string;
  timeline: number;
  content: string;
  storageName: string;
  objectKey: string;
  receivedAt: Date;
}

/** What an upload reports: a history file's row before it is received. */
export type HistoryUpload = Omit<WalHistoryRecord, 'receivedAt'>;

export interface DurablePosition {
  systemIdentifier: string;
  timeline: number;
  /** Exclusive end of the newest WAL byte held in storage. */
  lsn: Lsn;
  receivedAt: Date;
}

interface SegmentRow {
  database_name: string;
  system_identifier: string;
  timeline: number;
  segno: string;
  name: string;
  start_lsn: string;
  end_lsn: string;
  complete: boolean;
  size_bytes: string;
  stored_bytes: string;
  sha256: string;
  storage_name: string;
  object_key: string;
  received_at: Date;
}

interface HistoryRow {
  database_name: string;
  system_identifier: string;
  timeline: number;
  content: string;
  storage_name: string;
  object_key: string;
  received_at: Date;
}

function toSegment(row: SegmentRow): WalSegmentRecord {
  return {
    database: row.database_name,
    ...fieldsOf(row, ['system_identifier', 'timeline', 'name', 'complete', 'sha256', 'storage_name', 'object_key']),
    segno: BigInt(row.segno),
    startLsn: BigInt(row.start_lsn),
    endLsn: BigInt(row.end_lsn),
    sizeBytes: Number(row.size_bytes),
    storedBytes: Number(row.stored_bytes),
    receivedAt: row.received_at,
  };
}

const segmentSelect =
  'select s.*, d.name as database_name from wal_segments s join databases d on d.id = s.database_id';

/**
 * Records an upload. A partial upload updates its row while the segment grows; completing marks
 * it complete. A complete segment is never replaced by different bytes: that would be a second
 * server writing the same key, and is refused.
 */
export async function recordSegment(db: Queryable, upload: SegmentUpload): Promise<void> {
  const id = await databaseIdOf(db, upload.database);
  const { rows } = await db.query(
    `insert into wal_segments (database_id, system_identifier, timeline, segno, name, start_lsn, end_lsn, complete, size_bytes,
                               stored_bytes, sha256, storage_name, object_key)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     on conflict (database_id, system_identifier, timeline, segno) do update set
       end_lsn = excluded.end_lsn, complete = excluded.complete, size_bytes = excluded.size_bytes, stored_bytes = excluded.stored_bytes,
       sha256 = excluded.sha256, storage_name = excluded.storage_name, object_key = excluded.object_key, received_at = now()
     where not wal_segments.complete and (excluded.complete or excluded.end_lsn >= wal_segments.end_lsn)
     returning 1`,
    [
      id,
      ...valuesOf(upload, [
        'systemIdentifier',
        'timeline',
        'segno',
        'name',
        'startLsn',
        'endLsn',
        'complete',
        'sizeBytes',
        'storedBytes',
        'sha256',
        'storageName',
        'objectKey',
      ]),
    ],
  );
  if (rows.length > 0) return;
  const current = await getSegment(db, upload.database, upload.systemIdentifier, upload.timeline, upload.segno);
  // The same bytes again (a retried upload) are fine; a partial behind a complete one is stale.
  if (current?.complete && (!upload.complete || current.sha256 === upload.sha256)) return;
  if (current && !current.complete && !upload.complete) return;
  throw new HindsightError(
    'conflict',
    `database "${upload.database}": WAL segment ${upload.name} of system ${upload.systemIdentifier} is already archived with different content (sha256 ${current?.sha256}); refusing to overwrite it with ${upload.sha256} (two servers are writing one archive)`,
  );
}

export async function segmentsOf(
  db: Queryable,
  database: string,
  options: { systemIdentifier?: string; timeline?: number } = {},
): Promise<WalSegmentRecord[]> {
  return allRows(
    db,
    `${segmentSelect} where d.name = $1 and ($2::text is null or s.system_identifier = $2) and ($3::int is null or s.timeline = $3)
     order by s.system_identifier, s.timeline, s.segno`,
    [database, options.systemIdentifier ?? null, options.timeline ?? null],
    toSegment,
  );
}

export async function getSegment(
  db: Queryable,
  database: string,
  systemIdentifier: string,
  timeline: number,
  segno: bigint,
): Promise<WalSegmentRecord | undefined> {
  return firstRow(
    db,
    `${segmentSelect} where d.name = $1 and s.system_identifier = $2 and s.timeline = $3 and s.segno = $4`,
    [database, systemIdentifier, timeline, segno.toString()],
    toSegment,
  );
}

/** Forgets a segment's row (the object is already gone from storage). */
export async function removeSegment(
  db: Queryable,
  database: string,
  systemIdentifier: string,
  timeline: number,
  segno: bigint,
): Promise<void> {
  await db.query(
    `delete from wal_segments s using databases d
     where d.id = s.database_id and d.name = $1 and s.system_identifier = $2 and s.timeline = $3 and s.segno = $4`,
    [database, systemIdentifier, timeline, segno.toString()],
  );
}

/** The newest WAL byte held in storage (on the highest timeline) and when it arrived. */
export async function latestDurable(
  db: Queryable,
  database: string,
  systemIdentifier?: string,
): Promise<DurablePosition | undefined> {
  const { rows } = await db.query<SegmentRow>(
    `${segmentSelect} where d.name = $1 and ($2::text is null or s.system_identifier = $2)
     order by s.timeline desc, s.end_lsn desc limit 1`,
    [database, systemIdentifier ?? null],
  );
  if (!rows[0]) return undefined;
  const s = toSegment(rows[0]);
  return { systemIdentifier: s.systemIdentifier, timeline: s.timeline, lsn: s.endLsn, receivedAt: s.receivedAt };
}

/** Records a timeline history file; the same timeline with other content is refused. */
export async function recordHistory(db: Queryable, input: HistoryUpload): Promise<void> {
  const id = await databaseIdOf(db, input.database);
  const { rows } = await db.query<{ content: string }>(
    `insert into wal_histories (database_id, system_identifier, timeline, content, storage_name, object_key)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (database_id, system_identifier, timeline) do update set received_at = wal_histories.received_at
     returning content`,
    [id, input.systemIdentifier, input.timeline, input.content, input.storageName, input.objectKey],
  );
  if (rows[0]!.content !== input.content) {
    throw new HindsightError(
      'conflict',
      `database "${input.database}": timeline ${input.timeline} history of system ${input.systemIdentifier} is already archived with different content; refusing to overwrite it (two servers are writing one archive)`,
    );
  }
}

export async function historiesOf(
  db: Queryable,
  database: string,
  options: { systemIdentifier?: string } = {},
): Promise<WalHistoryRecord[]> {
  const { rows } = await db.query<HistoryRow>(
    `select h.*, d.name as database_name from wal_histories h join databases d on d.id = h.database_id
     where d.name = $1 and ($2::text is null or h.system_identifier = $2) order by h.system_identifier, h.timeline`,
    [database, options.systemIdentifier ?? null],
  );
  return rows.map((r) => ({
    database: r.database_name,
    ...fieldsOf(r, ['system_identifier', 'timeline', 'content', 'storage_name', 'object_key', 'received_at']),
  }));
}

/** Forgets every segment row of a timeline that ends at or before `lsn` (retention removed the objects first). */
export async function removeSegmentsBefore(
  db: Queryable,
  database: string,
  systemIdentifier: string,
  timeline: number,
  lsn: Lsn,
): Promise<number> {
  const { rowCount } = await db.query(
    `delete from wal_segments s using databases d
     where d.id = s.database_id and d.name = $1 and s.system_identifier = $2 and s.timeline = $3 and s.end_lsn <= $4`,
    [database, systemIdentifier, timeline, lsn.toString()],
  );
  return rowCount ?? 0;
}

/** Forgets the history files' rows of these timelines (retention removed the objects first). */
export async function removeHistories(db: Queryable, database: string, sysid: string, timelines: number[]) {
  await db.query(
    `delete from wal_histories h using databases d
     where d.id = h.database_id and d.name = $1 and h.system_identifier = $2 and h.timeline = any($3::int[])`,
    [database, sysid, timelines],
  );
}
