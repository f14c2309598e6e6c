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
  walIndexPrefix,
  walIndexSchema,
  type BaseBackupRecord,
  type WalIndex,
} from '../../wal/archive-records.ts';
import { READ_CONCURRENCY, mapBounded } from './bounded.ts';
import type { ArchiveSource, FoundArchive, FoundSegment } from './findings.ts';
import { readListedRecord } from './read-object.ts';
import { readLooseObjects } from './read-wal-objects.ts';

const listed = (source: ArchiveSource, key: string) => ({ key, size: source.sizes.get(key)! });

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

/** The record at `key` if it describes a base backup of `sysid` whose objects are there; why not otherwise. */
async function readBaseRecord(source: ArchiveSource, sysid: string, key: string): Promise<BaseBackupRecord | string> {
  try {
    const record = await readListedRecord(source.driver, listed(source, key), source.key, baseBackupRecordSchema);
    const why =
      record.systemIdentifier !== sysid || baseBackupRecordKey(sysid, record.id) !== key
        ? `it describes base backup ${record.id} of system ${record.systemIdentifier}`
        : (missing(source.sizes, record.object) ??
          (record.backupManifest ? missing(source.sizes, record.backupManifest) : undefined));
    return why ?? record;
  } catch (error) {
    return errorMessage(error);
  }
}

/** The index batch at `key` if it indexes a timeline of `sysid` under its own prefix; why not otherwise. */
async function readIndexBatch(source: ArchiveSource, sysid: string, key: string): Promise<WalIndex | string> {
  try {
    const batch = await readListedRecord(source.driver, listed(source, key), source.key, walIndexSchema);
    if (batch.systemIdentifier !== sysid || !key.startsWith(`${walIndexPrefix(sysid, batch.timeline)}/`))
      return `it indexes timeline ${batch.timeline} of system ${batch.systemIdentifier}`;
    return batch;
  } catch (error) {
    return errorMessage(error);
  }
}

/**
 * Reads the records whose keys match `pattern`, several at a time; in listing order, the good ones
 * are returned and the others listed as unreadable with their reason.
 */
async function readRecords<T extends object>(
  source: ArchiveSource,
  pattern: RegExp,
  read: (key: string) => Promise<T | string>,
): Promise<Array<{ key: string; record: T }>> {
  const keys = source.listing.filter((o) => pattern.test(o.key)).map((o) => o.key);
  const results = await mapBounded(keys, READ_CONCURRENCY, read);
  const found: Array<{ key: string; record: T }> = [];
  results.forEach((result, i) => {
    if (typeof result === 'string') source.unreadable.push({ key: keys[i]!, reason: result });
    else found.push({ key: keys[i]!, record: result });
  });
  return found;
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
  const baseBackups = (
    await readRecords(source, /^pitr\/\d+\/base\/[^/]+\.json\.hsb$/, (key) => readBaseRecord(source, sysid, key))
  ).map((r) => r.record);
  const batches = (
    await readRecords(source, /^pitr\/\d+\/wal-index\/[0-9A-F]{8}\/[^/]+\.json\.hsb$/, (key) =>
      readIndexBatch(source, sysid, key),
    )
  ).map(({ key, record }) => ({ key, batch: record }));
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
