/**
 * The PITR archives one storage holds, read for a catalog rebuild, one `pitr/<system id>/` at a
 * time: base backups from their records, WAL segments from the index batches, and — for segment
 * objects no batch covers (a batch lost to a crash, an archive older than batches) and for partial
 * segments and timeline histories — from the objects themselves.
 */
import { errorMessage } from '../../errors.ts';
import type { ObjectInfo } from '../../storage/contract.ts';
import {
  baseBackupRecordKey,
  baseBackupRecordSchema,
  readRecord,
  walIndexPrefix,
  walIndexSchema,
  type BaseBackupRecord,
  type WalIndex,
} from '../../wal/archive-records.ts';
import type { ArchiveSource, FoundArchive, FoundSegment } from './findings.ts';
import { readLooseObjects } from './read-wal-objects.ts';

/** The system identifiers of the archives in a listing of the whole storage. */
export function archiveSystemIds(listing: ObjectInfo[]): string[] {
  const ids = new Set<string>();
  for (const { key } of listing) {
    const match = /^pitr\/(\d{1,20})\//.exec(key);
    if (match) ids.add(match[1]!);
  }
  return [...ids].sort();
}

/** Why a stored object is not the one a record names, or undefined when it is there at its size. */
function missing(sizes: Map<string, number>, entry: { key: string; sizeBytes: number }): string | undefined {
  const size = sizes.get(entry.key);
  if (size === undefined) return `its object '${entry.key}' is missing`;
  if (size !== entry.sizeBytes)
    return `its object '${entry.key}' holds ${size} bytes, the record says ${entry.sizeBytes}`;
  return undefined;
}

async function readBaseRecords(source: ArchiveSource, sysid: string): Promise<BaseBackupRecord[]> {
  const found: BaseBackupRecord[] = [];
  const recordKeys = source.listing.filter((o) => /^pitr\/\d+\/base\/[^/]+\.json\.hsb$/.test(o.key));
  for (const { key } of recordKeys) {
    try {
      const record = await readRecord(source.driver, key, source.key, baseBackupRecordSchema);
      const why =
        record.systemIdentifier !== sysid || baseBackupRecordKey(sysid, record.id) !== key
          ? `it describes base backup ${record.id} of system ${record.systemIdentifier}`
          : (missing(source.sizes, record.object) ??
            (record.backupManifest ? missing(source.sizes, record.backupManifest) : undefined));
      if (why === undefined) found.push(record);
      else source.unreadable.push({ key, reason: why });
    } catch (error) {
      source.unreadable.push({ key, reason: errorMessage(error) });
    }
  }
  return found;
}

async function readIndexBatches(
  source: ArchiveSource,
  sysid: string,
): Promise<Array<{ key: string; batch: WalIndex }>> {
  const batches: Array<{ key: string; batch: WalIndex }> = [];
  const batchKeys = source.listing.filter((o) => /^pitr\/\d+\/wal-index\/[0-9A-F]{8}\/[^/]+\.json\.hsb$/.test(o.key));
  for (const { key } of batchKeys) {
    try {
      const batch = await readRecord(source.driver, key, source.key, walIndexSchema);
      if (batch.systemIdentifier !== sysid || !key.startsWith(`${walIndexPrefix(sysid, batch.timeline)}/`))
        source.unreadable.push({
          key,
          reason: `it indexes timeline ${batch.timeline} of system ${batch.systemIdentifier}`,
        });
      else batches.push({ key, batch });
    } catch (error) {
      source.unreadable.push({ key, reason: errorMessage(error) });
    }
  }
  return batches;
}

/** The entries of a batch whose objects are there at their size; the others are reported once per batch. */
function presentEntries(source: ArchiveSource, batch: WalIndex, batchKey: string): FoundSegment[] {
  const present = batch.segments.filter(
    (s) => missing(source.sizes, { key: s.objectKey, sizeBytes: s.storedBytes }) === undefined,
  );
  const gone = batch.segments.length - present.length;
  if (gone > 0)
    source.unreadable.push({
      key: batchKey,
      reason: `${gone} of its ${batch.segments.length} segments are not in storage at the size it gives`,
    });
  return present.map((entry) => ({ ...entry, complete: true }));
}

/** The Hindsight database the newest record names. */
function ownerOf(records: BaseBackupRecord[], batches: Array<{ batch: WalIndex }>): string | undefined {
  const newest = [...records].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0];
  return newest?.database ?? batches.at(-1)?.batch.database;
}

export async function readArchive(source: ArchiveSource, sysid: string): Promise<FoundArchive> {
  const baseBackups = await readBaseRecords(source, sysid);
  const batches = await readIndexBatches(source, sysid);
  const segmentGroups = batches
    .map(({ key, batch }) => presentEntries(source, batch, key))
    .filter((group) => group.length > 0);
  const fromIndex = segmentGroups.reduce((n, g) => n + g.length, 0);
  const walSegmentSizeBytes = baseBackups[0]?.walSegmentSizeBytes ?? batches[0]?.batch.walSegmentSizeBytes;
  const loose = await readLooseObjects(source, {
    covered: new Set(segmentGroups.flat().map((s) => s.name)),
    segmentSize: walSegmentSizeBytes,
  });
  return {
    systemIdentifier: sysid,
    database: ownerOf(baseBackups, batches),
    walSegmentSizeBytes: walSegmentSizeBytes ?? loose.segmentSize,
    baseBackups,
    segmentGroups: [...segmentGroups, ...loose.segments.map((s) => [s])],
    histories: loose.histories,
    fromIndex,
    byReading: loose.segments.length,
  };
}
