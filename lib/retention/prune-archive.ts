import type { Catalog } from '../catalog/catalog.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { createStorageDriver } from '../storage/index.ts';
import { baseBackupKey, baseManifestKey, historyKey, walPrefix } from '../wal/archive-keys.ts';
import { baseBackupRecordKey, walIndexPrefix } from '../wal/archive-records.ts';
import { parseLsn, parseSegmentName, segmentEndLsn, type Lsn } from '../wal/lsn.ts';

/**
 * Carries out the PITR half of a retention plan. Storage objects go first, catalog rows after, so
 * a run that dies half-way leaves rows whose objects are gone, and the next run (which plans the
 * same cuts again) removes what is left and then the rows. Objects are removed by their key
 * functions whether or not they exist, plus whatever one listing finds before a cut, so objects
 * without a row (written by another process, or left by a crash) go too.
 */

export interface WalCutOrder {
  timeline: number;
  cutLsn: string;
}

export interface WalPruneResult {
  segments: number;
  objects: number;
  indexBatches: number;
  histories: number;
}

const PARALLEL_REMOVES = 8;

async function withDriver<T>(catalog: Catalog, storageName: string, work: (d: StorageDriver) => Promise<T>) {
  const driver = createStorageDriver(storageName, await catalog.storageConfig(storageName));
  try {
    return await work(driver);
  } finally {
    await driver.close?.().catch(() => undefined);
  }
}

/** Removes keys a few at a time (a remote storage answers one request per key). */
async function removeAll(driver: StorageDriver, keys: string[], onProgress: (done: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      await driver.remove(key);
      if (++done % 500 === 0) onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_REMOVES, keys.length) }, worker));
}

/** Removes a base backup's archive, its backup_manifest and its record, then marks its row deleted. */
export async function removeBaseBackup(catalog: Catalog, id: string): Promise<boolean> {
  const base = await catalog.wal.getBaseBackup(id);
  if (base.status === 'deleted') return false;
  const keys = new Set([base.objectKey, ...(base.manifestKey === null ? [] : [base.manifestKey])]);
  if (base.systemIdentifier !== null) {
    for (const key of [baseBackupKey, baseManifestKey, baseBackupRecordKey]) keys.add(key(base.systemIdentifier, id));
  }
  await withDriver(catalog, base.storageName, async (driver) => {
    for (const key of keys) await driver.remove(key);
  });
  await catalog.wal.markBaseBackupDeleted(id);
  return true;
}

const SEGMENT_OBJECT = /\/([0-9A-F]{24})(?:\.partial)?\.zst\.hsb$/;
const INDEX_BATCH = /\/[0-9A-F]{24}-([0-9A-F]{24})\.json\.hsb$/;

interface Archive {
  database: string;
  systemIdentifier: string;
  segmentSize: number;
}

/** The listed objects of one storage that lie wholly before a cut of their timeline. */
async function listedBefore(driver: StorageDriver, archive: Archive, cuts: Map<number, Lsn>) {
  const { systemIdentifier: sysid, segmentSize } = archive;
  const segments: string[] = [];
  for (const object of await driver.list(walPrefix(sysid))) {
    const name = SEGMENT_OBJECT.exec(object.key)?.[1];
    if (name === undefined) continue;
    const { timeline, segno } = parseSegmentName(name, segmentSize);
    const cut = cuts.get(timeline);
    if (cut !== undefined && segmentEndLsn(segno, segmentSize) <= cut) segments.push(object.key);
  }
  const batches: string[] = [];
  for (const [timeline, cut] of cuts) {
    for (const object of await driver.list(walIndexPrefix(sysid, timeline))) {
      const last = INDEX_BATCH.exec(object.key)?.[1];
      if (last === undefined) continue;
      if (segmentEndLsn(parseSegmentName(last, segmentSize).segno, segmentSize) <= cut) batches.push(object.key);
    }
  }
  return { segments, batches };
}

/**
 * Deletes the WAL before each timeline's cut (segments, `.partial` objects and the WAL index batches
 * whose last segment ends before it) and the history files of `histories`, in every storage that
 * holds part of the archive; then forgets their catalog rows.
 */
export async function pruneWal(
  catalog: Catalog,
  archive: Archive,
  orders: readonly WalCutOrder[],
  histories: readonly number[],
  onProgress: (done: number) => void = () => undefined,
): Promise<WalPruneResult> {
  const { database, systemIdentifier: sysid } = archive;
  const cuts = new Map(orders.map((o) => [o.timeline, parseLsn(o.cutLsn)]));
  const rows = (await catalog.wal.segmentsOf(database, { systemIdentifier: sysid })).filter(
    (s) => s.endLsn <= (cuts.get(s.timeline) ?? -1n),
  );
  const historyRows = (await catalog.wal.historiesOf(database, { systemIdentifier: sysid })).filter((h) =>
    histories.includes(h.timeline),
  );
  const config = await catalog.wal.config(database);
  const storages = new Set([...rows.map((r) => r.storageName), ...historyRows.map((h) => h.storageName)]);
  if (config.storageName !== null) storages.add(config.storageName);
  const result: WalPruneResult = { segments: rows.length, objects: 0, indexBatches: 0, histories: historyRows.length };
  for (const storageName of storages) {
    await withDriver(catalog, storageName, async (driver) => {
      const listed = await listedBefore(driver, archive, cuts);
      const keys = new Set(listed.segments);
      for (const row of rows) if (row.storageName === storageName) keys.add(row.objectKey);
      for (const timeline of histories) keys.add(historyKey(sysid, timeline));
      for (const h of historyRows) if (h.storageName === storageName) keys.add(h.objectKey);
      await removeAll(driver, [...keys, ...listed.batches], (done) => onProgress(result.objects + done));
      result.objects += keys.size;
      result.indexBatches += listed.batches.length;
    });
  }
  for (const [timeline, cut] of cuts) await catalog.wal.removeSegmentsBefore(database, sysid, timeline, cut);
  if (histories.length > 0) await catalog.wal.removeHistories(database, sysid, [...histories]);
  return result;
}
