import assert from 'node:assert/strict';
import { copyFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { targetUrl } from '../../lib/pg/connection.ts';
import { runDeepChecks } from '../../services/doctor-deep.ts';
import { backupScheduleId } from '../../temporal/contracts/backup.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import type { Platform } from '../support/platform.ts';
import { itemsTable, startSeededPlatform } from '../support/seeded-platform.ts';

interface Finding {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

/**
 * `hindsight doctor --deep` against a real catalog, Temporal and local storage: it agrees when
 * everything does, then names each disagreement made by hand, one of every kind it looks for.
 */
describe('doctor --deep: the catalog held against storage and Temporal', () => {
  let platform: Platform;
  const backupIds: string[] = [];

  const findings = async (): Promise<Finding[]> => {
    const out: Finding[] = [];
    await runDeepChecks(platform.runtime, platform.client, (name, status, detail) =>
      out.push({ name, status, detail }),
    );
    return out;
  };
  const failures = async () => (await findings()).filter((f) => f.status !== 'ok');
  const sql = (text: string, values: unknown[] = []) => platform.runtime.catalog.pool.query(text, values);

  before(async () => {
    let source;
    ({ platform, source } = await startSeededPlatform('shop', itemsTable(500)));
    await platform.ops.addDatabase({
      name: 'shop',
      url: targetUrl(source),
      storages: 'local',
      verifyAfterBackup: false,
    });
    await platform.ops.setSchedule('shop', '0 3 * * *');
    for (let i = 0; i < 2; i++) backupIds.push((await (await platform.ops.startBackup('shop')).result()).backupId);
  });

  after(async () => {
    await platform?.stop();
  });

  it('finds nothing to report on a platform that agrees with itself, and says what it checked', async () => {
    const all = await findings();
    assert.deepEqual(
      all.filter((f) => f.status !== 'ok'),
      [],
    );
    const copies = all.find((f) => f.name === 'backup copies');
    assert.match(copies?.detail ?? '', /^2 complete copies found/);
    assert.match(all.find((f) => f.name === 'backup schedules')?.detail ?? '', /^1 expected, 1 in Temporal/);
  });

  it('names a complete copy whose object is gone from its storage', async () => {
    const [first] = backupIds;
    await rm(path.join(platform.backupsDir, 'shop', `${first}.dump.hsb`));
    const found = await failures();
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]!.name, `backup ${first} in local`);
    assert.match(found[0]!.detail, new RegExp(`storage has no shop/${first}\\.dump\\.hsb`));
  });

  it('names a manifest in storage for a backup the catalog does not have', async () => {
    const [, second] = backupIds;
    const stray = '20200101T000000Z-0a0b0c';
    await copyFile(
      path.join(platform.backupsDir, 'shop', `${second}.json`),
      path.join(platform.backupsDir, 'shop', `${stray}.json`),
    );
    const found = (await failures()).find((f) => f.name.includes(stray));
    assert.equal(found?.status, 'fail');
    assert.match(
      found?.detail ?? '',
      /look complete here, but the catalog has no such backup: run hindsight catalog rebuild/,
    );
  });

  it('names a backup running in the catalog whose workflow Temporal never had', async () => {
    await sql(
      `insert into backups (id, database_id, workflow_id, status, trigger)
       select '20261207T000000Z-0d0e0f', id, 'backup/shop/never-started', 'running', 'manual' from databases where name = 'shop'`,
    );
    const found = (await failures()).find((f) => f.name === 'backup 20261207T000000Z-0d0e0f');
    assert.match(found?.detail ?? '', /its workflow backup\/shop\/never-started is not found/);
  });

  it("names a database's missing schedule and a schedule without its database", async () => {
    await platform.client.schedule.getHandle(backupScheduleId('shop')).delete();
    const found = await failures();
    assert.match(found.find((f) => f.name === 'schedule backup/shop')?.detail ?? '', /none in Temporal: save it again/);
    await platform.ops.setSchedule('shop', '0 3 * * *');
    await sql("update databases set schedule = null where name = 'shop'");
    const orphan = (await failures()).find((f) => f.name === 'schedule backup/shop');
    assert.match(orphan?.detail ?? '', /no scheduled database shop in the catalog: delete it/);
  });

  it('names an archived WAL segment the catalog holds and its storage lacks', async () => {
    const key = 'pitr/7000000000000000001/wal/000000010000000000000003.zst.hsb';
    await sql(
      `insert into wal_segments (database_id, system_identifier, timeline, segno, name, start_lsn, end_lsn, complete,
                                 size_bytes, stored_bytes, sha256, storage_name, object_key)
       select id, '7000000000000000001', 1, 3, '000000010000000000000003', 50331648, 67108864, true,
              16777216, 4096, repeat('0', 64), 'local', $1 from databases where name = 'shop'`,
      [key],
    );
    const found = (await failures()).find((f) => f.name === `wal ${key} in local`);
    assert.equal(found?.status, 'fail');
    assert.match(found?.detail ?? '', /archive lacks it: every window through it is broken/);
  });

  it('hindsight doctor --deep --json lists them and exits 1', async () => {
    const result = await hindsightResult(platform.configEnv, ['doctor', '--deep', '--json']);
    assert.equal(result.code, 1, result.stderr);
    const checks = JSON.parse(result.stdout) as Finding[];
    const names = checks.filter((c) => c.status === 'fail').map((c) => c.name);
    for (const expected of [
      `backup ${backupIds[0]} in local`,
      'schedule backup/shop',
      'backup 20261207T000000Z-0d0e0f',
    ])
      assert.ok(names.includes(expected), `${expected} among ${names.join(', ')}`);
  });
});
