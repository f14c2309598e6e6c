import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { createRetentionActivities } from '../../activities/retention.ts';
import { createLogger } from '../../lib/logger.ts';
import { targetUrl } from '../../lib/pg/connection.ts';
import { planForDatabase } from '../../lib/retention/plan-for-database.ts';
import { systemActor } from '../../services/authz.ts';
import { retentionScheduleId } from '../../temporal/contracts/retention.ts';
import { createFilledDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { rawClient } from '../support/s3-moto-helpers.ts';
import { lockedS3Settings, lockOf, newLockedBucket, setRetention, versionsUnder } from '../support/s3-object-lock.ts';
import { startMoto, type MotoServer } from '../support/servers/moto.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Every row of the backups and their copies, ordered: what a refused delete must leave as it was. */
async function catalogRows(platform: Platform): Promise<string> {
  const { rows } = await platform.runtime.catalog.pool.query<{ rows: string }>(
    `select coalesce(string_agg(t::text, E'\\n' order by t::text), '') as rows from (
       select b.id, b.status, b.finished_at, c.storage_id, c.status as copy_status
         from backups b left join backup_copies c on c.backup_id = b.id) t`,
  );
  return rows[0]!.rows;
}

describe('retention on an S3 storage with Object Lock: a locked backup stays until its date, then goes', () => {
  let moto: MotoServer;
  let client: S3Client;
  let bucket: string;
  let platform: Platform;
  const ids: string[] = [];
  const finished: Date[] = [];
  const retention = () =>
    createRetentionActivities({ catalog: platform.runtime.catalog, logger: createLogger('retention-lock-test') });

  before(async () => {
    [moto, platform] = await Promise.all([startMoto(), startPlatform()]);
    client = rawClient(moto);
    bucket = await newLockedBucket(client, 'vault');
    await platform.startWorker();
    // Saved through the connection test, which checks the bucket's Object Lock.
    await platform.ops.saveStorage('vault', lockedS3Settings(moto, bucket, 1));
    const source = await createFilledDatabase(
      platform.cluster,
      'ledger',
      'create table entries (id int primary key, memo text); insert into entries select g, md5(g::text) from generate_series(1, 200) g',
    );
    await platform.ops.addDatabase({
      name: 'ledger',
      url: targetUrl(source),
      storages: ['vault'],
      verifyAfterBackup: false,
    });
    for (let i = 0; i < 2; i += 1) {
      const outcome = await (await platform.ops.startBackup('ledger')).result();
      ids.push(outcome.backupId);
      finished.push((await platform.runtime.catalog.getBackup(outcome.backupId)).finishedAt!);
    }
    await platform.ops.setRetentionPolicy('ledger', { kind: 'count', keepLast: 1 });
  });
  after(async () => {
    client?.destroy();
    await Promise.all([platform?.stop(), moto?.stop()]);
  });

  it('refuses a storage whose bucket lacks Object Lock when it is saved', async () => {
    const plain = `plain-${ids[0]!.slice(-6).toLowerCase()}`;
    await client.send(new CreateBucketCommand({ Bucket: plain }));
    await assert.rejects(
      platform.ops.saveStorage('plain', lockedS3Settings(moto, plain, 1)),
      new RegExp(`the connection test failed at settings: .*bucket "${plain}" does not have Object Lock enabled`),
    );
    await assert.rejects(platform.runtime.catalog.getStorage('plain'), /plain/);
  });

  it('plans to keep the older backup while it is locked, and says until when', async () => {
    // Two hours on: the policy would delete the older one, and only the lock keeps it.
    const { plan } = await planForDatabase(
      platform.runtime.catalog,
      'ledger',
      new Date(finished[1]!.getTime() + 2 * HOUR),
    );
    assert.deepEqual(plan.delete, []);
    const older = plan.keep.find((k) => k.id === ids[0]);
    assert.deepEqual(older?.reasons, [`locked until ${iso(new Date(finished[0]!.getTime() + DAY))}`]);
  });

  it('reports the refusal of the storage and changes nothing when asked to delete a locked backup', async () => {
    const rowsBefore = await catalogRows(platform);
    const objectsBefore = await versionsUnder(client, bucket, 'ledger/');
    const until = (await lockOf(client, bucket, `ledger/${ids[0]}.json`)).until!;
    const result = await retention().deleteBackupEverywhere({ database: 'ledger', backupId: ids[0]!, reason: 'test' });
    assert.deepEqual(result, {
      deleted: false,
      why: `storage "vault" locks this backup until ${iso(until)} (S3 Object Lock): it cannot be deleted before then; retention deletes it on its first run after that date`,
    });
    assert.equal(await catalogRows(platform), rowsBefore);
    assert.deepEqual(await versionsUnder(client, bucket, 'ledger/'), objectsBefore);
  });

  it('a retention run whose plan is wrong about the date is held back by the storage, and reports it', async () => {
    // The catalog says the older backup finished three days ago, so the plan sees its lock as past:
    // the storage's own date still refuses, and the run skips it with the reason.
    await platform.runtime.catalog.pool.query('update backups set finished_at = $2 where id = $1', [
      ids[0],
      new Date(Date.now() - 3 * DAY),
    ]);
    const rowsBefore = await catalogRows(platform);
    try {
      const outcome = await (await platform.ops.startRetention('ledger')).result();
      assert.deepEqual(outcome.deleted, []);
      assert.equal(outcome.skipped.length, 1);
      assert.equal(outcome.skipped[0]!.id, ids[0]);
      assert.match(outcome.skipped[0]!.why, /^storage "vault" locks this backup until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
      assert.equal(await catalogRows(platform), rowsBefore);
    } finally {
      await platform.runtime.catalog.pool.query('update backups set finished_at = $2 where id = $1', [
        ids[0],
        finished[0],
      ]);
    }
  });

  it('refuses to remove the database with its backups while a storage locks them, and removes nothing', async () => {
    const rowsBefore = await catalogRows(platform);
    const objectsBefore = await versionsUnder(client, bucket, 'ledger/');
    const until = (await lockOf(client, bucket, `ledger/${ids[0]}.json`)).until!;
    await assert.rejects(platform.services.databases.remove(systemActor, 'ledger', { backups: 'delete' }), {
      message: `database "ledger" was not removed: storage "vault" locks backup ${ids[0]} until ${iso(until)} (S3 Object Lock), and nothing can delete it before then; remove the database with --keep-backups, or after that date`,
    });
    assert.equal((await platform.runtime.catalog.getDatabase('ledger')).name, 'ledger');
    // Refused before anything changed: the database keeps its schedules too.
    await platform.client.schedule.getHandle(retentionScheduleId('ledger')).describe();
    assert.equal(await catalogRows(platform), rowsBefore);
    assert.deepEqual(await versionsUnder(client, bucket, 'ledger/'), objectsBefore);
  });

  it('refuses to delete the locked backup by hand, naming the storage and the date, and removes nothing', async () => {
    const objectsBefore = await versionsUnder(client, bucket, 'ledger/');
    const until = (await lockOf(client, bucket, `ledger/${ids[0]}.json`)).until!;
    await assert.rejects(platform.services.backups.delete(systemActor, ids[0]!), {
      message: `backup ${ids[0]} was not deleted, and nothing was removed: storage "vault" locks this backup until ${iso(until)} (S3 Object Lock): it cannot be deleted before then; retention deletes it on its first run after that date`,
    });
    assert.equal((await platform.runtime.catalog.getBackup(ids[0]!)).status, 'complete');
    assert.deepEqual(await versionsUnder(client, bucket, 'ledger/'), objectsBefore);
  });

  it('deletes it on the first run after its date: from the storage, every version, and then from the catalog', async () => {
    // The date passing, told to moto (it takes a past retention date) and to the planner (its now).
    await setRetention(client, bucket, `ledger/${ids[0]}`, new Date(Date.now() - 1000));
    const later = new Date(finished[0]!.getTime() + DAY + 60_000);
    const { plan } = await planForDatabase(platform.runtime.catalog, 'ledger', later);
    assert.deepEqual(
      plan.delete.map((d) => d.id),
      [ids[0]],
    );
    const result = await retention().deleteBackupEverywhere({
      database: 'ledger',
      backupId: ids[0]!,
      reason: plan.delete[0]!.reason,
    });
    assert.deepEqual(result, { deleted: true });
    assert.deepEqual(await versionsUnder(client, bucket, `ledger/${ids[0]}`), []);
    assert.ok((await versionsUnder(client, bucket, `ledger/${ids[1]}`)).length > 0, 'the newer backup stays');
    assert.equal((await platform.runtime.catalog.getBackup(ids[0]!)).status, 'deleted');
  });
});
