import type { Catalog } from '../catalog/catalog.ts';
import type { BaseBackupRecord, WalSegmentRecord } from '../catalog/wal.ts';
import { createStorageDriver } from '../storage/index.ts';
import { walPrefix } from '../wal/archive-keys.ts';
import { formatLsn } from '../wal/lsn.ts';
import type { PitrFacts, PlannedBaseBackup, PlannedWalSegment } from './plan-types.ts';
import type { RetentionPolicy } from './policy.ts';

/**
 * The PITR archive as retention sees it: the complete base backups and WAL segments of the
 * database's current system identifier, each segment checked against one listing of what storage
 * holds (a segment the catalog lists but storage lost is a hole, never assumed present).
 *
 * There is no separate PITR window setting: the retention policy that keeps logical backups keeps
 * base backups too, by their finish time. A time policy of N days is also an N-day window (the
 * newest base backup finished before it is kept, so that its first moment stays recoverable); a
 * count or GFS policy has a window of 0 days, which keeps the newest base backup whatever the tiers.
 */

export interface PitrArchive {
  systemIdentifier: string;
  segmentSize: number;
  facts: PitrFacts;
}

export const windowDaysOf = (policy: RetentionPolicy): number => (policy.kind === 'time' ? policy.keepDays : 0);

/** Keys of every object under the archive's WAL prefix in each storage the segments name. */
async function storedKeys(catalog: Catalog, sysid: string, segments: WalSegmentRecord[]): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const storageName of new Set(segments.map((s) => s.storageName))) {
    const driver = createStorageDriver(storageName, await catalog.storageConfig(storageName));
    try {
      for (const object of await driver.list(walPrefix(sysid))) keys.add(`${storageName}\n${object.key}`);
    } finally {
      await driver.close?.().catch(() => undefined);
    }
  }
  return keys;
}

function plannedBase(b: BaseBackupRecord, inUse: Set<string>): PlannedBaseBackup {
  return {
    id: b.id,
    finishedAt: b.stopTime ?? b.startTime,
    startLsn: formatLsn(b.startLsn!),
    timeline: b.timeline!,
    inUse: inUse.has(b.id),
    parentId: b.parentId,
  };
}

/**
 * The base backups something is reading now: the parent of a running incremental base backup
 * (taken against its manifest), and the chain of each running point-in-time restore (held under a
 * lease that lapses when its worker dies, lib/catalog/base-backups-in-use.ts).
 */
export async function baseBackupsRead(
  catalog: Pick<Catalog, 'baseBackupsInUse'>,
  database: string,
  all: Array<Pick<BaseBackupRecord, 'status' | 'parentId'>>,
  now: Date = new Date(),
): Promise<Set<string>> {
  const inUse = await catalog.baseBackupsInUse(database, now);
  for (const b of all) if (b.status === 'running' && b.parentId !== null) inUse.add(b.parentId);
  return inUse;
}

/**
 * Null when the database has no PITR archive: PITR never enabled, or off with nothing left. An
 * archive left after PITR was turned off is still pruned by the policy.
 */
export async function gatherPitrFacts(
  catalog: Catalog,
  database: string,
  policy: RetentionPolicy,
): Promise<PitrArchive | null> {
  const config = await catalog.wal.config(database);
  const sysid = config.systemIdentifier;
  if (sysid === null || config.walSegmentSize === null) return null;
  const [all, segments, histories] = await Promise.all([
    catalog.wal.baseBackupsOf(database),
    catalog.wal.segmentsOf(database, { systemIdentifier: sysid }),
    catalog.wal.historiesOf(database, { systemIdentifier: sysid }),
  ]);
  const complete = all.filter(
    (b) => b.status === 'complete' && b.systemIdentifier === sysid && b.startLsn !== null && b.timeline !== null,
  );
  if (!config.enabled && complete.length === 0 && segments.length === 0) return null;
  const inUse = await baseBackupsRead(catalog, database, all);
  const stored = await storedKeys(catalog, sysid, segments);
  const walSegments = segments.map((s): PlannedWalSegment => ({
    name: s.name,
    timeline: s.timeline,
    startLsn: formatLsn(s.startLsn),
    endLsn: formatLsn(s.endLsn),
    storedBytes: s.storedBytes,
    present: stored.has(`${s.storageName}\n${s.objectKey}`),
  }));
  return {
    systemIdentifier: sysid,
    segmentSize: config.walSegmentSize,
    facts: {
      windowDays: windowDaysOf(policy),
      baseBackups: complete.map((b) => plannedBase(b, inUse)),
      walSegments,
      histories: histories.map((h) => ({ timeline: h.timeline, content: h.content })),
      segmentSize: config.walSegmentSize,
      byPolicy: true,
    },
  };
}
