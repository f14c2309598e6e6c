import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type { BaseBackupRecord, WalSegmentRecord } from '../../lib/catalog/wal.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { formatLsn } from '../../lib/wal/lsn.ts';
import { retentionPlanQuery } from '../../temporal/contracts/retention.ts';
import { createFilledDatabase, tableFingerprint, type Platform } from '../support/platform.ts';
import { startSignedInConsole } from '../support/console.ts';
import { restoredRows, takeBaseBackup, waitUntilArchived, type Row } from '../support/pitr-fixture.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';

const DAY = 86_400_000;

// One platform for the file: the PITR scenario's (a source streaming WAL), beside which the logical
// backups' database lives on the platform's own server.
const pitr = usePitrScenario('ledger');

describe('retention: a policy prunes old backups from storage, never the ones it must keep', () => {
  let platform: Platform;
  /** Backup ids, oldest first, with the age each is given (days). */
  const backups: Array<{ id: string; ageDays: number }> = [];

  before(async () => {
    const items =
      'create table items (id int primary key, name text); insert into items select g, md5(g::text) from generate_series(1, 500) g';
    platform = pitr.platform;
    const source = await createFilledDatabase(platform.cluster, 'shop', items);
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), verifyAfterBackup: false });
    // Six backups, then aged by rewriting their times in the catalog: 40, 30, 20, 10, 2 days and 5 minutes.
    for (const ageDays of [40, 30, 20, 10, 2, 5 / 1440]) {
      const outcome = await (await platform.ops.startBackup('shop')).result();
      backups.push({ id: outcome.backupId, ageDays });
    }
    for (const b of backups) {
      const at = new Date(Date.now() - b.ageDays * DAY);
      await platform.runtime.catalog.pool.query('update backups set started_at = $2, finished_at = $2 where id = $1', [
        b.id,
        at,
      ]);
    }
  });

  it('refuses a bad policy with the field named', async () => {
    await assert.rejects(
      platform.ops.setRetentionPolicy('shop', { kind: 'count', keepLast: 0 }),
      /invalid retention policy: keepLast: /,
    );
    await assert.rejects(platform.ops.setRetentionPolicy('shop', { kind: 'gfs' }), /invalid retention policy/);
  });

  it('plans a dry run that keeps the newest, the verified and the one in use, and says why', async () => {
    // The 30-day-old backup passed a verification, the 20-day-old one is being verified right now.
    const verified = backups[1]!.id;
    const v = await (await platform.ops.requestVerification('shop', { backupId: verified })).finished();
    assert.equal(v.status, 'successful', v.reason ?? '');
    await platform.runtime.catalog.verifications.request({
      id: 'v-held-by-test-000',
      database: 'shop',
      backupId: backups[2]!.id,
      trigger: 'manual',
    });

    const { plan } = await platform.ops.retentionPlan('shop', { kind: 'count', keepLast: 2 });
    const kept = new Map(plan.keep.map((k) => [k.id, k.reasons.join('; ')]));
    const deleted = new Map(plan.delete.map((d) => [d.id, d.reason]));
    assert.deepEqual([...deleted.keys()].sort(), [backups[0]!.id, backups[3]!.id].sort(), plan.summary);
    assert.match(kept.get(verified)!, /newest verified backup/);
    assert.match(kept.get(backups[2]!.id)!, /in use by a restore or verification/);
    assert.match(kept.get(backups[5]!.id)!, /one of the 2 newest|younger than one hour/);
    assert.match(kept.get(backups[4]!.id)!, /one of the 2 newest/);
    assert.equal(plan.keep.length + plan.delete.length, backups.length);
  });

  it('deletes exactly the planned backups from storage and the catalog when it runs, as the plan query shows', async () => {
    await platform.ops.setRetentionPolicy('shop', { kind: 'count', keepLast: 2 });
    const schedule = await platform.client.schedule.getHandle('retention/shop').describe();
    assert.equal((schedule.action as { workflowType: string }).workflowType, 'gfsRetention');

    const started = await platform.ops.startRetention('shop');
    const outcome = await started.result();
    const doomed = [backups[0]!.id, backups[3]!.id].sort();
    assert.deepEqual([...outcome.deleted].sort(), doomed);
    const plan = await platform.client.workflow.getHandle(started.workflowId).query(retentionPlanQuery);
    assert.deepEqual(plan?.delete.map((d) => d.id).sort(), doomed);

    const files = await readdir(path.join(platform.backupsDir, 'shop'));
    for (const b of backups) {
      const present = files.includes(`${b.id}.dump.hsb`) && files.includes(`${b.id}.json`);
      assert.equal(
        present,
        !doomed.includes(b.id),
        `backup ${b.id} ${doomed.includes(b.id) ? 'removed' : 'kept'} in storage`,
      );
    }
    for (const id of doomed) {
      const record = await platform.runtime.catalog.getBackup(id);
      assert.equal(record.status, 'deleted');
    }
    // A second run finds nothing more to delete: the plan is stable.
    const again = await (await platform.ops.startRetention('shop')).result();
    assert.deepEqual(again.deleted, []);
  });
});

async function addItems(target: PgTarget, from: number, to: number): Promise<void> {
  const client = await connect('retention-test', target);
  try {
    await client.query('insert into items select g, md5(g::text) from generate_series($1::int, $2::int) g', [from, to]);
  } finally {
    await client.end();
  }
}

/** The console's per-storage row, posted as plain HTML forms (no JavaScript): preview, then save. */
async function saveNearFromConsole(platform: Platform, ids: string[]): Promise<void> {
  const web = await startSignedInConsole(platform);
  const post = (action: string, fields: Record<string, string>) =>
    web.fetch(`${web.url}/databases/depot?/${action}`, {
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      headers: { origin: web.url, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
    });
  try {
    const policy = JSON.stringify({ kind: 'count', keepLast: 1 });
    const preview = await post('retentionStoragePreview', { storage: 'near', policy });
    const html = await preview.text();
    assert.equal(preview.status, 200, html.slice(0, 300));
    const doomed = [...html.matchAll(/data-testid="storage-retention-delete" data-backup-id="([^"]+)"/g)].map(
      (m) => m[1],
    );
    assert.deepEqual(doomed.sort(), [ids[0], ids[1]].sort());
    assert.deepEqual(await platform.runtime.catalog.storageRetentionOf('depot'), [
      { storageName: 'near', retentionPolicy: null },
      { storageName: 'far', retentionPolicy: null },
    ]);
    const saved = await post('retentionStorageSave', { storage: 'near', policy });
    assert.equal(saved.status, 200);
    assert.match(await saved.text(), /Retention of storage near saved/);
  } finally {
    await web.close();
  }
}

/**
 * Database "depot" on storages "near" and "far", three backups aged 3, 2 and 1 days with 100 more
 * rows before each; returns the fingerprint the oldest one holds.
 */
async function addDepotWithThreeBackups(
  platform: Platform,
  source: PgTarget,
  ids: string[],
  dirOf: (storage: string) => string,
): Promise<{ rows: number; md5: string }> {
  for (const storage of ['near', 'far']) {
    await platform.ops.saveStorage(storage, { type: 'local', path: dirOf(storage) });
  }
  await platform.ops.addDatabase({
    name: 'depot',
    url: targetUrl(source),
    storages: ['near', 'far'],
    verifyAfterBackup: false,
  });
  let oldest = { rows: 0, md5: '' };
  for (const [i, ageDays] of [3, 2, 1].entries()) {
    await addItems(source, i * 100 + 1, (i + 1) * 100);
    if (i === 0) oldest = await tableFingerprint(source, 'items', 'id');
    ids.push((await (await platform.ops.startBackup('depot')).result()).backupId);
    const at = new Date(Date.now() - ageDays * DAY);
    await platform.runtime.catalog.pool.query('update backups set started_at = $2, finished_at = $2 where id = $1', [
      ids.at(-1),
      at,
    ]);
  }
  return oldest;
}

/**
 * Per-storage retention: two local storages, the newest copy kept on one and three on the other.
 * Only copies go (their objects and catalog rows), and the oldest backup still restores, from the
 * storage that kept it.
 */
describe('retention per storage: each storage keeps the copies its own policy keeps', () => {
  const ids: string[] = [];
  let oldest: { rows: number; md5: string };
  let source: PgTarget;
  const dirOf = (storage: string) => path.join(pitr.platform.dir, `retention-${storage}`);
  const listed = async (storage: string) =>
    (await readdir(path.join(dirOf(storage), 'depot'))).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));

  before(async () => {
    source = await createFilledDatabase(
      pitr.platform.cluster,
      'depot',
      'create table items (id int primary key, name text)',
    );
    oldest = await addDepotWithThreeBackups(pitr.platform, source, ids, dirOf);
  });

  it('plans and deletes copies per storage; the catalog matches the storages; the oldest restores from the one keeping it', async () => {
    const { platform } = pitr;
    const actor = platform.ops.actor;
    await saveNearFromConsole(platform, ids);
    await platform.services.retention.setStoragePolicy(actor, 'depot', 'far', { kind: 'count', keepLast: 3 });
    const { plan } = await platform.ops.retentionPlan('depot');
    assert.deepEqual(plan.delete, [], plan.summary);
    assert.deepEqual(
      plan.deleteCopies?.map((c) => `${c.id}@${c.storage}`).sort(),
      [`${ids[0]}@near`, `${ids[1]}@near`].sort(),
    );
    assert.deepEqual(
      plan.storages?.map((s) => [s.storage, s.keep.length]),
      [
        ['near', 1],
        ['far', 3],
      ],
    );

    const outcome = await (await platform.ops.startRetention('depot')).result();
    assert.deepEqual(outcome.deleted, []);
    assert.equal(outcome.deletedCopies?.length, 2);
    assert.deepEqual(await listed('near'), [ids[2]]);
    assert.deepEqual((await listed('far')).sort(), [...ids].sort());
    for (const id of ids) {
      const copies = (await platform.runtime.catalog.getBackup(id)).copies.map((c) => c.storageName).sort();
      const inStorage: string[] = [];
      for (const storage of ['far', 'near']) if ((await listed(storage)).includes(id)) inStorage.push(storage);
      assert.deepEqual(copies, inStorage.sort(), `backup ${id}: the catalog's copies are the storages holding it`);
    }

    const restore = await platform.ops.startRestore({
      database: 'depot',
      backupId: ids[0],
      to: { database: 'depot_oldest' },
    });
    await restore.result();
    assert.deepEqual(await tableFingerprint({ ...source, database: 'depot_oldest' }, 'items', 'id'), oldest);
    const { rows } = await platform.runtime.catalog.pool.query<{ storage_name: string }>(
      'select storage_name from restores where backup_id = $1',
      [ids[0]],
    );
    assert.deepEqual(
      rows.map((r) => r.storage_name),
      ['far'],
    );
    // Reordering the destinations keeps each storage's own policy.
    await platform.ops.setDestinations('depot', ['far', 'near']);
    const kept = await platform.runtime.catalog.storageRetentionOf('depot');
    const shown = kept.map((p) => `${p.storageName} ${JSON.stringify(p.retentionPolicy)}`).join('; ');
    assert.match(shown, /^far .*"keepLast":3.*; near .*"keepLast":1/);
  });
});

/** The console's preview, posted as a plain HTML form (no JavaScript), shows the plan's base backups and WAL. */
async function assertConsolePreview(platform: Platform, deleted: string[], doomed: WalSegmentRecord[]): Promise<void> {
  const web = await startSignedInConsole(platform);
  try {
    const response = await web.fetch(`${web.url}/databases/ledger?/retentionPreview`, {
      method: 'POST',
      body: new URLSearchParams({ kind: 'count', keepLast: '2' }).toString(),
      headers: { origin: web.url, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
    });
    const html = await response.text();
    assert.equal(response.status, 200, html.slice(0, 300));
    const shown = (testid: string, attribute: string) =>
      [...html.matchAll(new RegExp(`data-testid="${testid}" ${attribute}="([^"]+)"`, 'g'))].map((m) => m[1]!);
    assert.deepEqual(shown('retention-base-delete', 'data-base-backup-id').sort(), [...deleted].sort());
    assert.deepEqual(shown('retention-wal-cut', 'data-timeline'), ['1']);
    assert.ok(html.includes(`${doomed[0]!.name}..${doomed.at(-1)!.name}`), 'the WAL range is shown');
  } finally {
    await web.close();
  }
}

const mark = async (note: string): Promise<Row> => {
  const [row] = await pitr.source.query<Row>(
    'insert into events (at, note) values (clock_timestamp(), $1) returning id, at',
    [note],
  );
  return row!;
};

/** A segment lost from storage inside the kept window: the plan and the run refuse, and nothing goes. */
async function assertRefusal(listWal: () => Promise<string[]>): Promise<void> {
  const { platform } = pitr;
  const { catalog } = platform.runtime;
  const [b4, b3] = await catalog.wal.baseBackupsOf('ledger', { status: 'complete' });
  // Under keepLast 1 the run would delete b3 and the WAL up to b4; the hole lies after b4's start.
  const inWindow = (await catalog.wal.segmentsOf('ledger')).find((s) => s.complete && s.endLsn > b4!.startLsn!);
  assert.ok(inWindow, 'a complete segment after the newest base backup');
  await rm(path.join(platform.backupsDir, inWindow.objectKey));
  const walBefore = await listWal();
  const segmentsBefore = (await catalog.wal.segmentsOf('ledger')).map((s) => s.name);

  await platform.ops.setRetentionPolicy('ledger', { kind: 'count', keepLast: 1 });
  const { plan } = await platform.ops.retentionPlan('ledger');
  assert.match(plan.walRefusal ?? '', new RegExp(`WAL segment ${inWindow.name} \\(timeline 1\\) is missing`));
  await assert.rejects((await platform.ops.startRetention('ledger')).result(), (error: Error) => {
    assert.match(String((error as { cause?: Error }).cause?.message), new RegExp(`WAL segment ${inWindow.name}`));
    return true;
  });
  const walAfter = new Set(await listWal());
  for (const file of walBefore) assert.ok(walAfter.has(file), `${file} is still in storage`);
  assert.equal((await catalog.wal.getBaseBackup(b3!.id)).status, 'complete');
  const left = new Set((await catalog.wal.segmentsOf('ledger')).map((s) => s.name));
  for (const name of segmentsBefore) assert.ok(left.has(name), `${name} is still in the catalog`);
}

/**
 * The PITR archive under a policy: four base backups with WAL between them, a count policy that
 * keeps the two newest. Times are real (no backdating: a restore to a time needs the commit times
 * the WAL holds), so "days" are the stretches between base backups.
 */
describe('retention of a PITR archive: old base backups and the WAL before the oldest kept one go, the kept windows stay whole', () => {
  const marks: Row[] = [];
  let sysid = '';
  const archiveDir = () => path.join(pitr.platform.backupsDir, 'pitr', sysid);
  const listWal = async () => (await readdir(path.join(archiveDir(), 'wal'))).sort();
  const listBase = async () => (await readdir(path.join(archiveDir(), 'base'))).sort();

  before(async () => {
    const { platform, source } = pitr;
    await platform.runtime.catalog.wal.updateSettings('ledger', { baseBackupFullEvery: 1 });
    for (let i = 1; i <= 4; i++) {
      await takeBaseBackup(platform, 'ledger', `b${i}`);
      // Two rows 300 ms apart after each base backup: a restore target between them.
      marks.push(await mark(`after b${i}`));
      await new Promise((resolve) => setTimeout(resolve, 300));
      marks.push(await mark(`later after b${i}`));
      await source.query('select pg_switch_wal()');
    }
    await waitUntilArchived(platform, source);
    sysid = (await platform.runtime.catalog.wal.config('ledger')).systemIdentifier!;
  });

  it('deletes the two oldest base backups and exactly the WAL before the oldest kept one, in storage and the catalog', async () => {
    const { platform } = pitr;
    const { catalog } = platform.runtime;
    const bases = (await catalog.wal.baseBackupsOf('ledger', { status: 'complete' })).reverse();
    assert.equal(bases.length, 4);
    const [b1, b2, b3, b4] = bases as [BaseBackupRecord, BaseBackupRecord, BaseBackupRecord, BaseBackupRecord];
    const segmentsBefore = await catalog.wal.segmentsOf('ledger');
    const doomed = segmentsBefore.filter((s) => s.endLsn <= b3.startLsn!);
    assert.ok(doomed.length >= 2, `WAL before the third base backup: ${doomed.length} segments`);
    const walBefore = await listWal();

    const { plan } = await platform.ops.retentionPlan('ledger', { kind: 'count', keepLast: 2 });
    assert.deepEqual(plan.deleteBaseBackups.map((d) => d.id).sort(), [b1.id, b2.id].sort(), plan.summary);
    assert.match(plan.deleteBaseBackups[0]!.reason, /not one of the 2 newest/);
    assert.equal(plan.walRefusal, null);
    assert.deepEqual(plan.walCuts, [
      {
        timeline: 1,
        cutLsn: formatLsn(b3.startLsn!),
        first: doomed[0]!.name,
        last: doomed.at(-1)!.name,
        firstLsn: formatLsn(doomed[0]!.startLsn),
        lastLsn: formatLsn(doomed.at(-1)!.endLsn),
        segments: doomed.length,
        bytes: doomed.reduce((sum, s) => sum + s.storedBytes, 0),
      },
    ]);

    await assertConsolePreview(platform, [b1.id, b2.id], doomed);

    await platform.ops.setRetentionPolicy('ledger', { kind: 'count', keepLast: 2 });
    const outcome = await (await platform.ops.startRetention('ledger')).result();
    assert.deepEqual([...(outcome.deletedBaseBackups ?? [])].sort(), [b1.id, b2.id].sort());
    assert.equal(outcome.wal?.segments, doomed.length);

    // Storage: exactly the doomed segments' objects are gone (the archiver may have added newer ones).
    const walAfter = new Set(await listWal());
    const goneNames = new Set(doomed.map((s) => path.basename(s.objectKey)));
    for (const file of walBefore) assert.equal(walAfter.has(file), !goneNames.has(file), `${file} in storage`);
    const baseAfter = await listBase();
    for (const b of [b1, b2]) assert.ok(!baseAfter.some((f) => f.startsWith(b.id)), `${b.id} gone from storage`);
    for (const b of [b3, b4]) assert.ok(baseAfter.includes(path.basename(b.objectKey)), `${b.id} kept in storage`);
    // Catalog: the rows follow storage.
    for (const b of [b1, b2]) assert.equal((await catalog.wal.getBaseBackup(b.id)).status, 'deleted');
    for (const b of [b3, b4]) assert.equal((await catalog.wal.getBaseBackup(b.id)).status, 'complete');
    const left = new Set((await catalog.wal.segmentsOf('ledger')).map((s) => s.name));
    for (const s of segmentsBefore) assert.equal(left.has(s.name), !doomed.includes(s), `${s.name} in the catalog`);

    const again = await (await platform.ops.startRetention('ledger')).result();
    assert.deepEqual(again.deletedBaseBackups ?? [], [], 'a second run finds nothing more');
  });

  it('still restores to a time in the oldest kept window', async () => {
    // marks[4] and marks[5] were written 300 ms apart after b3, the oldest kept base backup.
    const [before3, after3] = [marks[4]!, marks[5]!];
    const t = new Date(before3.at.getTime() + Math.floor((after3.at.getTime() - before3.at.getTime()) / 2));
    const { outcome } = await pitr.restoreToTime('restored-oldest-kept', t, 'oldest-kept');
    const ids = new Set((await restoredRows(pitr.source, outcome.port!)).map((r) => r.id));
    assert.ok(ids.has(before3.id), `row "${'after b3'}" written before T is there`);
    assert.ok(!ids.has(after3.id), 'the row written after T is not');
  });

  it('refuses, deleting nothing, when a kept window has lost a WAL segment', () => assertRefusal(listWal));
});
