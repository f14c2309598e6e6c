/**
 * Content checksums (lib/pg/table-checksums.ts) on a real PostgreSQL and through a real backup and
 * verification: a table of many types hashes the same in a copy whose rows were written in another
 * order and in a restored sandbox; one value changed in one row, with the count unchanged, fails the
 * comparison naming the table; large tables are sampled by primary key, the same rows on both sides.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { openRecordedBackup, withDrivers } from '../../activities/storage-access.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { countRows } from '../../lib/pg/row-counts.ts';
import { createSandboxDriver, type SandboxPreference } from '../../lib/sandbox/index.ts';
import { verifyBackup } from '../../lib/verify/verify-backup.ts';
import type { BackupRecord } from '../../lib/catalog/backups.ts';
import { createLogger } from '../../lib/logger.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';

const logger = createLogger('content-checksums-test');

/** A table of the types whose text form depends on settings or storage: the checksum must not. */
const MANY_TYPES = `
  create type mood as enum ('calm', 'cross');
  create domain positive as numeric check (value > 0);
  create table kinds (
    id int primary key, doc json, docb jsonb, raw bytea, ints int[], words text[], amount numeric(20,6),
    price positive, at timestamptz, local timestamp, day date, span interval, ratio float8, approx real,
    name text collate "C", flag boolean, ref uuid, feeling mood, period tstzrange, addr inet, cash money,
    big text);
  insert into kinds
  select g, json_build_object('g', g, 'nested', json_build_array(g, null)), jsonb_build_object('g', g, 'b', g % 2 = 0),
         decode(md5(g::text), 'hex'), array[g, -g, null], array['a' || g, null, 'ü'], g * 1.000001, g + 0.5,
         timestamptz '2026-03-29 01:30:00+01' + g * interval '17 minutes', timestamp '2000-02-29 12:00' + g * interval '1 day',
         date '1999-12-31' + g, g * interval '1 hour 3 seconds', 1.0 / g, (1.0 / g)::real,
         case when g % 7 = 0 then null else 'name ' || g end, g % 3 = 0, md5(g::text)::uuid,
         (array['calm', 'cross'])[g % 2 + 1]::mood, tstzrange(now() - g * interval '1 day', null), ('10.0.' || g % 250 || '.1')::inet,
         (g * 1.25)::money, case when g % 50 = 0 then repeat(md5(g::text), 4000) end
  from generate_series(1, 2000) g;
  -- An index over a function that says it is immutable: redefined, the index no longer matches the heap.
  create function bucket(n int) returns int language sql immutable as 'select n % 10';
  create index kinds_bucket on kinds (bucket(id));
  create table tags (name text primary key, uses int);
  insert into tags select 'tag ' || g, g from generate_series(1, 800) g;
  create table plain_log (at timestamptz, line text);
  insert into plain_log select now() - g * interval '1 minute', 'line ' || g from generate_series(1, 500) g;`;

async function withClient<T>(target: PgTarget, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect('test', target);
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('content checksums: taken in the snapshot, compared in the restored copy', () => {
  let platform: Platform;
  let source: PgTarget;
  let copy: PgTarget;

  before(async () => {
    platform = await startPlatform();
    source = await createDatabase(platform.cluster, 'kinds');
    await withClient(source, (c) => c.query(MANY_TYPES));
    // The copy: the same content, its rows rewritten in random order, and session defaults that change
    // every type's text form (the checksum sets its own).
    const admin = platform.cluster.target('postgres');
    await withClient(admin, (c) => c.query('create database kinds_copy template kinds'));
    copy = { ...source, database: 'kinds_copy' };
    await withClient(copy, (c) =>
      c.query(`create table shuffled as select * from kinds order by random();
        truncate kinds; insert into kinds select * from shuffled order by random(); drop table shuffled;
        alter database kinds_copy set timezone = 'Pacific/Chatham';
        alter database kinds_copy set datestyle = 'SQL, DMY';
        alter database kinds_copy set intervalstyle = 'iso_8601';
        alter database kinds_copy set bytea_output = 'escape';
        alter database kinds_copy set extra_float_digits = -3;`),
    );
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'kinds', url: targetUrl(source), verifyAfterBackup: false });
  });

  after(async () => {
    await platform?.stop();
  });

  /** The lib's verification of a backup of kinds, with the test's change to the restored copy before it is counted. */
  const verifyKinds = async (backup: BackupRecord, beforeCount?: (target: PgTarget) => Promise<void>) => {
    const sandboxes = await createSandboxDriver({
      preferred: platform.configEnv.HINDSIGHT_SANDBOX_DRIVER as SandboxPreference,
      root: platform.config.sandboxRoot,
    });
    const names = backup.copies.filter((c) => c.status === 'complete').map((c) => c.storageName);
    return withDrivers(platform.runtime.catalog, names, (sources) =>
      verifyBackup({
        open: () => openRecordedBackup(sources, 'kinds', backup, logger),
        key: platform.runtime.keyring.resolve,
        sandboxes,
        ...(beforeCount ? { beforeCount } : {}),
      }),
    );
  };

  it('samples a large table by primary key (the same rows on both sides) and only counts one without a key', async () => {
    const policy = { fullMaxBytes: 0, sampleOneIn: 8 };
    const sampled = await withClient(source, (c) => countRows(c, { policy }));
    const kinds = sampled.find((t) => t.table === 'kinds')!;
    assert.equal(kinds.checksum?.scope, 'sample');
    assert.ok(kinds.checksum?.scope === 'sample' && kinds.checksum.hashedRows > 150 && kinds.checksum.hashedRows < 400);
    assert.equal(kinds.checksum.pick, 'int-key', 'an integer key is sampled by integer hash');
    const tags = sampled.find((t) => t.table === 'tags')!;
    assert.ok(tags.checksum?.scope === 'sample' && tags.checksum.pick === 'key-md5', 'a text key by its MD5');
    assert.ok(tags.checksum.hashedRows > 50 && tags.checksum.hashedRows < 160, `${tags.checksum.hashedRows} of 800`);
    assert.deepEqual(kinds.checksum?.scope === 'sample' && kinds.checksum.key, ['id']);
    const log = sampled.find((t) => t.table === 'plain_log')!;
    assert.equal(log.checksum?.scope, 'none');
    assert.equal(log.rows, 500);
    const same = await withClient(copy, (c) => countRows(c, { recorded: sampled }));
    assert.deepEqual(same, sampled, 'the copy, in another order, samples and hashes the same rows');
  });

  it('is the same in a copy written in another order under other session defaults, and differs after one update', async () => {
    const policy = { fullMaxBytes: 1024 * 1024 * 1024, sampleOneIn: 1 };
    const original = await withClient(source, (c) => countRows(c, { policy }));
    const kinds = original.find((t) => t.table === 'kinds')!;
    assert.equal(kinds.checksum?.scope, 'full');
    const again = await withClient(copy, (c) => countRows(c, { recorded: original }));
    assert.deepEqual(
      again.find((t) => t.table === 'kinds')?.checksum,
      kinds.checksum,
      'the same rows hash the same whatever their order',
    );
    await withClient(copy, (c) => c.query(`update kinds set amount = amount + 0.000001 where id = 1234`));
    const changed = await withClient(copy, (c) => countRows(c, { recorded: original }));
    const changedKinds = changed.find((t) => t.table === 'kinds')!;
    assert.equal(changedKinds.rows, kinds.rows, 'the count cannot see it');
    assert.notDeepEqual(changedKinds.checksum, kinds.checksum, 'the checksum does');
  });

  it('a backup records them; its verification compares them, and fails naming the table when one value changed', async () => {
    const outcome = await (await platform.ops.startBackup('kinds')).result();
    const backup = await platform.runtime.catalog.getBackup(outcome.backupId);
    const recorded = backup.rowCounts!.find((t) => t.table === 'kinds')!;
    assert.equal(recorded.checksum?.scope, 'full', 'a small table is hashed whole by default');

    const verify = (beforeCount?: (target: PgTarget) => Promise<void>) => verifyKinds(backup, beforeCount);

    const good = await verify();
    assert.equal(good.reason, null, String(good.reason));
    const kinds = good.comparisons.find((c) => c.table === 'kinds')!;
    assert.equal(kinds.ok, true);
    assert.equal(kinds.checksum?.expected, kinds.checksum?.restored);
    assert.equal(kinds.checksum?.expected, recorded.checksum?.scope === 'full' ? recorded.checksum.sum : 'absent');
    assert.match(
      good.stages.find((s) => s.stage === 'compare')?.detail ?? '',
      /content checksums equal for 3 \(3 whole, 0 sampled/,
    );

    const bad = await verify(async (target) => {
      await withClient(target, (c) => c.query(`update kinds set name = 'changed' where id = 3`));
    });
    assert.match(
      bad.reason ?? '',
      /table contents differ \(same row counts, other values\) in 1 table\(s\): public\.kinds: 2000 rows on both sides, checksum \(full\) expected -?\d+, restored -?\d+/,
    );
    assert.equal(bad.comparisons[0]?.table, 'kinds', 'the changed table comes first');
  });

  it('amcheck checks every B-tree index as the restore role, and fails the verification on one that lies', async () => {
    const backup = await platform.runtime.catalog.getBackup(
      (await platform.runtime.catalog.listBackups('kinds'))[0]!.id,
    );
    const verify = (beforeCount?: (target: PgTarget) => Promise<void>) => verifyKinds(backup, beforeCount);
    const good = await verify();
    assert.equal(good.reason, null, String(good.reason));
    assert.deepEqual([good.indexes?.total, good.indexes?.checked, good.indexes?.corrupt], [3, 3, []]);

    // The function behind kinds_bucket now answers otherwise: its entries no longer match the rows.
    const lying = `create or replace function bucket(n int) returns int language sql immutable as 'select n % 10 + 1'`;
    const bad = await verify(async (target) => {
      await withClient(target, (c) => c.query(lying));
    });
    assert.match(
      bad.reason ?? '',
      /^amcheck found 1 corrupt index\(es\): public\.kinds_bucket: .*lacks matching index tuple/,
    );
    assert.equal(bad.stages.at(-2)?.stage, 'indexes');
  });
});
