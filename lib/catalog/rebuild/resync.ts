/**
 * One PITR archive's rows brought up to date with what its storage holds, for a catalog that knows
 * the archive but not all of it: a catalog restored from a backup taken while the old host went on
 * archiving. The rebuild's readers and writes do the work, restricted to the archive's
 * `pitr/<system id>/` prefixes; nothing the catalog holds is removed. One rule is added to theirs: a
 * partial segment that storage holds further than its row replaces the row, since the row must
 * describe the object (the receiver's storage check compares the two).
 */
import type pg from 'pg';
import type { DecryptionKey } from '../../crypto/chunked-gcm.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import { databaseIdOf, type Queryable } from '../db.ts';
import { applyPlan } from './apply.ts';
import type { FoundArchive, Unreadable } from './findings.ts';
import { planRebuild, type SegmentRow } from './plan.ts';
import { readArchive } from './read-pitr.ts';
import { recordedState } from './write.ts';

export interface ArchiveResync {
  database: string;
  /** Segment rows added, or partial rows completed, from storage. */
  segments: number;
  /** Partial rows that storage held further and that now say what it holds. */
  partials: number;
  baseBackups: number;
  histories: number;
  unreadable: Unreadable[];
}

/** What a partial row is compared on. */
export interface PartialState {
  timeline: number;
  segno: bigint;
  complete: boolean;
  endLsn: bigint;
}

const rowKey = (s: { timeline: number; segno: bigint }) => `${s.timeline}/${s.segno}`;

/**
 * The partials found in storage that replace their row: the row is a partial too, and the object
 * ends further on. A complete row stays (the rebuild's writes complete partials already); a row
 * further than its object is left for the storage check to report, storage having lost WAL.
 */
export function newerPartials(rows: readonly PartialState[], found: readonly SegmentRow[]): SegmentRow[] {
  const byKey = new Map(rows.map((r) => [rowKey(r), r]));
  return found.filter((s) => {
    const row = byKey.get(rowKey(s));
    return !s.complete && row !== undefined && !row.complete && s.endLsn > row.endLsn;
  });
}

/** The system identifiers the catalog has archived `database` under: its own and any its rows name. */
export async function archivedSystems(db: Queryable, database: string): Promise<string[]> {
  const { rows } = await db.query<{ sysid: string }>(
    `select system_identifier as sysid from databases where name = $1 and system_identifier is not null
     union select system_identifier from wal_segments where database_id = (select id from databases where name = $1)
     union select system_identifier from base_backups where database_id = (select id from databases where name = $1)
     order by 1`,
    [database],
  );
  return rows.map((r) => r.sysid);
}

async function partialRows(db: Queryable, database: string, systemIdentifier: string): Promise<PartialState[]> {
  const { rows } = await db.query<{ timeline: number; segno: string; end_lsn: string }>(
    `select timeline, segno, end_lsn from wal_segments
      where database_id = $1 and system_identifier = $2 and not complete`,
    [await databaseIdOf(db, database), systemIdentifier],
  );
  return rows.map((r) => ({
    timeline: r.timeline,
    segno: BigInt(r.segno),
    complete: false,
    endLsn: BigInt(r.end_lsn),
  }));
}

/** Rewrites the row of each partial; the guard keeps a row that moved on meanwhile (the receiver). */
async function replacePartials(
  db: Queryable,
  at: { database: string; systemIdentifier: string; storageName: string },
  partials: SegmentRow[],
): Promise<number> {
  const databaseId = await databaseIdOf(db, at.database);
  let replaced = 0;
  for (const s of partials) {
    const { rowCount } = await db.query(
      `update wal_segments set end_lsn = $5, size_bytes = $6, stored_bytes = $7, sha256 = $8, storage_name = $9,
                               object_key = $10, received_at = $11
        where database_id = $1 and system_identifier = $2 and timeline = $3 and segno = $4
          and not complete and end_lsn < $5`,
      [
        databaseId,
        at.systemIdentifier,
        s.timeline,
        s.segno.toString(),
        s.endLsn.toString(),
        s.sizeBytes,
        s.storedBytes,
        s.sha256,
        at.storageName,
        s.objectKey,
        s.receivedAt.toISOString(),
      ],
    );
    replaced += rowCount ?? 0;
  }
  return replaced;
}

/** Reads one archive; one that records name as another database's is not this one's to write. */
async function readOwnArchive(
  storage: { driver: StorageDriver },
  key: DecryptionKey,
  database: string,
  sysid: string,
  unreadable: Unreadable[],
): Promise<FoundArchive | undefined> {
  const listing = await storage.driver.list(`pitr/${sysid}`);
  if (listing.length === 0) return undefined;
  const sizes = new Map(listing.map((o) => [o.key, o.size]));
  const archive = await readArchive({ driver: storage.driver, key, listing, sizes, unreadable }, sysid);
  if (archive.database !== undefined && archive.database !== database) return undefined;
  return { ...archive, database };
}

/**
 * Brings `database`'s rows of the archives under `systemIdentifiers` up to date from `storage`
 * (named as the catalog names it). Idempotent: a second run adds nothing.
 */
export async function resyncArchive(
  pool: pg.Pool,
  storage: { name: string; driver: StorageDriver },
  key: DecryptionKey,
  database: string,
  systemIdentifiers: readonly string[],
): Promise<ArchiveResync> {
  const result: ArchiveResync = { database, segments: 0, partials: 0, baseBackups: 0, histories: 0, unreadable: [] };
  for (const sysid of systemIdentifiers) {
    const unreadable: Unreadable[] = [];
    const archive = await readOwnArchive(storage, key, database, sysid, unreadable);
    if (archive) {
      const state = await recordedState(pool);
      const plan = planRebuild(
        { storage: storage.name, backups: [], archives: [archive], unreadable },
        state.databases,
        state.baseBackups,
      );
      const applied = await applyPlan(pool, plan, storage.name);
      result.segments += applied.walSegments.added;
      result.baseBackups += applied.baseBackups.added;
      result.histories += applied.histories.added;
      result.unreadable.push(...applied.unreadable);
      const found = plan.archives.flatMap((a) => a.segmentGroups.flat());
      const newer = newerPartials(await partialRows(pool, database, sysid), found);
      const at = { database, systemIdentifier: sysid, storageName: storage.name };
      result.partials += await replacePartials(pool, at, newer);
    } else result.unreadable.push(...unreadable);
  }
  return result;
}
