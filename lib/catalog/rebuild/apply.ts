/**
 * Carries out a rebuild plan (./plan.ts) against the catalog, object group by object group: a group
 * that fails is listed as unreadable with its reason and leaves nothing behind; the others go on.
 */
import type pg from 'pg';
import { errorMessage } from '../../errors.ts';
import { withTransaction } from '../db.ts';
import type { Unreadable } from './findings.ts';
import type { PlannedArchive, RebuildPlan } from './plan.ts';
import { emptyTally, type RebuildReport } from './report.ts';
import {
  insertRebuiltBackup,
  insertRebuiltBaseBackup,
  insertRebuiltDatabase,
  insertRebuiltHistory,
  insertRebuiltSegments,
  recordArchiveIdentity,
} from './write.ts';

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
  for (const segments of archive.segmentGroups) {
    counts.walSegments.found += segments.length;
    const added = await group(unreadable, segments[0]!.objectKey, () => insertRebuiltSegments(pool, at, segments));
    counts.walSegments.added += added ?? 0;
  }
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
  for (const manifest of plan.backups) {
    counts.backups.found += 1;
    counts.copies.found += 1;
    const added = await group(unreadable, manifest.object.key, () => insertRebuiltBackup(pool, manifest, storage));
    if (added?.backup) counts.backups.added += 1;
    if (added?.copy) counts.copies.added += 1;
  }
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
