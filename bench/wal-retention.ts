/**
 * Retention of a week of PITR archive on local storage: one 16 MiB WAL segment a minute (each a
 * small real object under its real key, with its catalog row), a switch to timeline 2 half-way,
 * seven daily base backups (archive, backup_manifest and record objects), WAL index batches of an
 * hour each. Times the plan (catalog rows and one storage listing) and carrying it out with a
 * count policy that keeps the three newest base backups, then checks what is left.
 *
 *   scripts/node bench/wal-retention.ts
 *
 * Environment: BENCH_WAL_DAYS (default 7), BENCH_WAL_PER_MINUTE (default 1).
 */
import assert from 'node:assert/strict';
import { createDatabase, startPlatform, type Platform } from '../test/support/platform.ts';
import { targetUrl } from '../lib/pg/connection.ts';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { StorageDriver } from '../lib/storage/contract.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import { baseBackupKey, baseManifestKey, historyKey, segmentKey } from '../lib/wal/archive-keys.ts';
import { baseBackupRecordKey, walIndexKey } from '../lib/wal/archive-records.ts';
import { formatHistoryFile, segmentName } from '../lib/wal/lsn.ts';
import { planForDatabase } from '../lib/retention/plan-for-database.ts';
import { pruneWal, removeBaseBackup } from '../lib/retention/prune-archive.ts';
import { envInt, log } from './settings.ts';
import { runBench } from './support/run.ts';

const SEGMENT = 16 * 1024 * 1024;
const SYSID = '7311111111111111111';
const DB = 'week';
const days = envInt('BENCH_WAL_DAYS', 7);
const perMinute = envInt('BENCH_WAL_PER_MINUTE', 1);
const total = days * 24 * 60 * perMinute;
const switchAt = Math.floor(total / 2);
const MINUTE = 60_000;

async function put(driver: StorageDriver, key: string, bytes = 64): Promise<void> {
  const write = await driver.openWrite(key);
  write.stream.end(Buffer.alloc(bytes, 7));
  await write.commit();
}

const timelineOf = (segno: number) => (segno < switchAt ? 1 : 2);

/** Several inserts at a time: the catalog is a real PostgreSQL, each row one round trip. */
async function inBatches(count: number, work: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < count; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, count - i) }, (_, j) => work(i + j)));
  }
}

async function generateWal(catalog: Catalog, driver: StorageDriver, start: number): Promise<void> {
  await inBatches(total, async (segno) => {
    const timeline = timelineOf(segno);
    const name = segmentName(timeline, BigInt(segno), SEGMENT);
    const objectKey = segmentKey(SYSID, name);
    await put(driver, objectKey);
    await catalog.wal.recordSegment({
      database: DB,
      systemIdentifier: SYSID,
      timeline,
      segno: BigInt(segno),
      name,
      startLsn: BigInt(segno) * BigInt(SEGMENT),
      endLsn: BigInt(segno + 1) * BigInt(SEGMENT),
      complete: true,
      sizeBytes: SEGMENT,
      storedBytes: 64,
      sha256: '0'.repeat(64),
      storageName: 'local',
      objectKey,
    });
  });
  const hour = 60 * perMinute;
  for (let first = 0; first < total; first += hour) {
    const last = Math.min(first + hour, total) - 1;
    if (timelineOf(first) !== timelineOf(last)) continue;
    const tli = timelineOf(first);
    const name = (segno: number) => segmentName(tli, BigInt(segno), SEGMENT);
    await put(driver, walIndexKey(SYSID, tli, name(first), name(last)));
  }
  const content = formatHistoryFile([
    { parentTimeline: 1, switchLsn: BigInt(switchAt) * BigInt(SEGMENT), reason: 'bench' },
  ]);
  await put(driver, historyKey(SYSID, 2));
  await catalog.wal.recordHistory({
    database: DB,
    systemIdentifier: SYSID,
    timeline: 2,
    content,
    storageName: 'local',
    objectKey: historyKey(SYSID, 2),
  });
  log(`generated ${total} segments over ${days} days from ${new Date(start).toISOString()}`);
}

async function generateBaseBackups(catalog: Catalog, driver: StorageDriver, start: number): Promise<void> {
  for (let day = 0; day < days; day++) {
    const segno = day * 24 * 60 * perMinute + 5;
    const id = `base-day-${day}`;
    for (const key of [baseBackupKey, baseManifestKey, baseBackupRecordKey]) await put(driver, key(SYSID, id), 4096);
    await catalog.wal.beginBaseBackup({
      id,
      database: DB,
      storageName: 'local',
      objectKey: baseBackupKey(SYSID, id),
      source: 'primary',
      workflowId: null,
      manifestKey: baseManifestKey(SYSID, id),
    });
    const at = start + (segno / perMinute) * MINUTE;
    await catalog.wal.completeBaseBackup(id, {
      systemIdentifier: SYSID,
      timeline: timelineOf(segno),
      startLsn: BigInt(segno) * BigInt(SEGMENT) + 40n,
      stopLsn: BigInt(segno + 1) * BigInt(SEGMENT),
      startTime: new Date(at),
      stopTime: new Date(at + MINUTE),
      sizeBytes: 4096,
      storedBytes: 4096,
      sha256: '0'.repeat(64),
    });
  }
}

async function measure(platform: Platform): Promise<void> {
  const { catalog } = platform.runtime;
  const source = await createDatabase(platform.cluster, DB);
  await platform.ops.addDatabase({ name: DB, url: targetUrl(source), verifyAfterBackup: false });
  await catalog.wal.recordServerIdentity(DB, SYSID, SEGMENT);
  const driver = createStorageDriver('local', await catalog.storageConfig('local'));
  const start = Date.now() - total * (MINUTE / perMinute) - MINUTE;
  await generateWal(catalog, driver, start);
  await generateBaseBackups(catalog, driver, start);

  const policy = { kind: 'count', keepLast: 3 };
  let began = performance.now();
  const { plan, archive } = await planForDatabase(catalog, DB, new Date(), policy);
  const planMs = performance.now() - began;
  assert.ok(archive !== null && plan.walRefusal === null, plan.summary);
  log(`plan: ${plan.summary}`);

  began = performance.now();
  for (const doomed of plan.deleteBaseBackups) await removeBaseBackup(catalog, doomed.id);
  const cuts = (plan.walCuts ?? []).map((c) => ({ timeline: c.timeline, cutLsn: c.cutLsn }));
  const archiveOf = { database: DB, systemIdentifier: SYSID, segmentSize: SEGMENT };
  const pruned = await pruneWal(catalog, archiveOf, cuts, plan.deleteHistories ?? []);
  const runMs = performance.now() - began;

  const left = await catalog.wal.segmentsOf(DB);
  const deleted = (plan.walCuts ?? []).reduce((sum, c) => sum + c.segments, 0);
  assert.equal(left.length, total - deleted, 'the catalog lost exactly the planned segments');
  assert.equal(pruned.segments, deleted);
  await driver.close?.();
  console.log(
    `wal-retention: ${total} segments, ${days} base backups, 2 timelines: plan ${(planMs / 1000).toFixed(2)} s; ` +
      `carried out ${(runMs / 1000).toFixed(2)} s (${plan.deleteBaseBackups.length} base backups, ${deleted} segments, ` +
      `${pruned.indexBatches} index batches, ${pruned.objects} objects)`,
  );
}

runBench(log, async () => {
  let platform: Platform | undefined;
  return {
    async work() {
      platform = await startPlatform();
      await measure(platform);
    },
    async cleanup() {
      await platform?.stop();
    },
    onFailure() {},
  };
});
