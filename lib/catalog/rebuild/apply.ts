/**
 * Carries out a rebuild plan (./plan.ts) against the catalog, object group by object group: a group
 * that fails is listed as unreadable with its reason and leaves nothing behind; the others go on.
 * Backups and WAL segments, the many, are written in chunks of groups (./write-batch.ts), one
 * statement for hundreds of rows; a chunk that fails is written again group by group, so the
 * outcome is that of the group-by-group writes in the same order.
 */
import type pg from 'pg';
import { errorMessage } from '../../errors.ts';
import type { BackupManifest } from '../../backup/manifest.ts';
import { withTransaction } from '../db.ts';
import { getStorage } from '../storages.ts';
import { chunked } from './bounded.ts';
import type { Unreadable } from './findings.ts';
import type { PlannedArchive, RebuildPlan } from './plan.ts';
import { emptyTally, type RebuildReport } from './report.ts';
import {
  insertRebuiltBackup,
  insertRebuiltBaseBackup,
  insertRebuiltDatabase,
  insertRebuiltHistory,
  recordArchiveIdentity,
} from './write.ts';
import {
  insertBackupChunk,
  insertRebuiltSegments,
  insertSegmentChunk,
  segmentRowKey,
  type SegmentsAt,
} from './write-batch.ts';

/** Rows per statement: large enough that round trips stop mattering, small enough to keep a failed chunk cheap. */
const BACKUPS_PER_CHUNK = 500;
const SEGMENTS_PER_CHUNK = 2000;

type Counts = Omit<RebuildReport, 'storage' | 'storageAdded' | 'unreadable' | 'changed'>;

/** Runs one group's writes; a failure becomes an unreadable entry for `key`. */
async function group<T>(unreadable: Unreadable[], key: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    unreadable.push({ key, reason: `not recorded: ${errorMessage(error)}` });
    return undefined;
  }
}

async function applySegments(
  pool: pg.Pool,
  groups: PlannedArchive['segmentGroups'],
  at: SegmentsAt,
  counts: Counts,
  unreadable: Unreadable[],
) {
  const chunks = chunked(groups, SEGMENTS_PER_CHUNK, {
    weight: (g) => g.length,
    keys: (g) => g.map(segmentRowKey),
  });
  for (const chunk of chunks) {
    for (const segments of chunk) counts.walSegments.found += segments.length;
    const added = await insertSegmentChunk(pool, at, chunk.flat()).catch(() => undefined);
    if (added !== undefined) {
      counts.walSegments.added += added;
      continue;
    }
    for (const segments of chunk) {
      const one = await group(unreadable, segments[0]!.objectKey, () => insertRebuiltSegments(pool, at, segments));
      counts.walSegments.added += one ?? 0;
    }
  }
}

async function applyBackups(
  pool: pg.Pool,
  manifests: BackupManifest[],
  storage: string,
  counts: Counts,
  unreadable: Unreadable[],
) {
  for (const chunk of chunked(manifests, BACKUPS_PER_CHUNK, { keys: (m) => [m.backupId] })) {
    counts.backups.found += chunk.length;
    counts.copies.found += chunk.length;
    const written = await withTransaction(pool, async (tx) =>
      insertBackupChunk(tx, chunk, (await getStorage(tx, storage)).id),
    ).catch(() => undefined);
    if (written === undefined) {
      for (const manifest of chunk) {
        const added = await group(unreadable, manifest.object.key, () => insertRebuiltBackup(pool, manifest, storage));
        if (added?.backup) counts.backups.added += 1;
        if (added?.copy) counts.copies.added += 1;
      }
      continue;
    }
    for (const { manifest, reason } of written.refused)
      unreadable.push({ key: manifest.object.key, reason: `not recorded: ${reason}` });
    counts.backups.added += written.backups.size;
    counts.copies.added += written.copies.size;
  }
}

async function applyArchive(
  pool: pg.Pool,
  archive: PlannedArchive,
  storage: string,
  counts: Counts,
  unreadable: Unreadable[],
) {
  const at = { database: archive.database, systemIdentifier: archive.systemIdentifier, storageName: storage };
  const known = await group(unreadable, `pitr/${archive.systemIdentifier}/`, () =>
    recordArchiveIdentity(pool, archive.database, archive.systemIdentifier, archive.walSegmentSizeBytes).then(
      () => true,
    ),
  );
  if (!known) return;
  for (const record of archive.baseBackups) {
    counts.baseBackups.found += 1;
    if (await group(unreadable, record.object.key, () => insertRebuiltBaseBackup(pool, record, storage)))
      counts.baseBackups.added += 1;
  }
  await applySegments(pool, archive.segmentGroups, at, counts, unreadable);
  counts.walSegments.fromIndex += archive.fromIndex;
  counts.walSegments.byReading += archive.byReading;
  for (const history of archive.histories) {
    counts.histories.found += 1;
    if (
      await group(unreadable, history.objectKey, () =>
        withTransaction(pool, (tx) => insertRebuiltHistory(tx, at, history)),
      )
    )
      counts.histories.added += 1;
  }
}

export async function applyPlan(
  pool: pg.Pool,
  plan: RebuildPlan,
  storage: string,
): Promise<Omit<RebuildReport, 'storageAdded'>> {
  const unreadable = [...plan.unreadable];
  const counts: Counts = {
    databases: { ...emptyTally(), created: [] },
    backups: emptyTally(),
    copies: emptyTally(),
    baseBackups: emptyTally(),
    walSegments: { ...emptyTally(), fromIndex: 0, byReading: 0 },
    histories: emptyTally(),
  };
  for (const db of plan.databases) {
    if (await group(unreadable, `${db.name}/`, () => insertRebuiltDatabase(pool, db, storage)))
      counts.databases.created.push(db.name);
  }
  counts.databases.found = new Set([
    ...plan.backups.map((b) => b.database),
    ...plan.archives.map((a) => a.database),
  ]).size;
  counts.databases.added = counts.databases.created.length;
  await applyBackups(pool, plan.backups, storage, counts, unreadable);
  for (const archive of plan.archives) await applyArchive(pool, archive, storage, counts, unreadable);
  const changed = [
    counts.databases,
    counts.backups,
    counts.copies,
    counts.baseBackups,
    counts.walSegments,
    counts.histories,
  ].some((t) => t.added > 0);
  return { storage, ...counts, unreadable, changed };
}
