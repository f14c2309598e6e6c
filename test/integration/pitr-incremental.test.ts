import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import type { BaseBackupProgress } from '../../temporal/contracts/pitr.ts';
import { takeBaseBackup, waitUntilArchived, type PitrSource } from '../support/pitr-fixture.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';

/** Ordered hashes of every table of the database: what a restore to T must reproduce exactly. */
async function tableHashes(target: PgTarget): Promise<Record<string, string>> {
  const client = await connect('hashes', target);
  try {
    const { rows: tables } = await client.query<{ name: string }>(
      `select format('%I.%I', table_schema, table_name) as name from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') order by 1`,
    );
    const out: Record<string, string> = {};
    for (const { name } of tables) {
      const { rows } = await client.query<{ n: string; h: string }>(
        `select count(*)::text as n, md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as h from ${name} t`,
      );
      out[name] = `${rows[0]!.n}:${rows[0]!.h}`;
    }
    return out;
  } finally {
    await client.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** WAL summaries on and two tables beside `events`, before the worker starts. */
async function summarizedSource(source: PitrSource): Promise<void> {
  // What the operator does once (docs/pitr.md): Hindsight never changes a source's configuration.
  await source.query('alter system set summarize_wal = on');
  await source.query('select pg_reload_conf()');
  await source.query(
    `create table items (id int primary key, qty int not null, label text not null) with (autovacuum_enabled = false)`,
  );
  await source.query(`insert into items select g, g % 97, repeat(md5(g::text), 4) from generate_series(1, 40000) g`);
  await source.query(`create table ledger (id bigserial primary key, item int not null, delta int not null)`);
}

/**
 * PITR on a PostgreSQL 17 source with summarize_wal on: a full base backup, then increments taken
 * against the previous backup's manifest read back from storage; a restore to T between two
 * sentinel rows combines the full and the increment that stops before T with pg_combinebackup.
 */
describe('point-in-time restore through an incremental chain (PostgreSQL 17)', () => {
  const backups: Record<string, BaseBackupProgress> = {};
  let atT: Record<string, string> = {};
  let t = new Date();

  const pitr = usePitrScenario('inc17', {
    dirName: 'source-inc17',
    major: 17,
    prepareSource: summarizedSource,
    chainMonitor: true,
    setUp: async ({ platform, source }) => {
      backups.full = await takeBaseBackup(platform, 'inc17', 'full');
      await source.query('update items set qty = qty + 1 where id <= 2000');
      await source.query('insert into ledger (item, delta) select g, 1 from generate_series(1, 2000) g');
      backups.inc1 = await takeBaseBackup(platform, 'inc17', 'inc1');
      await source.query(`update items set label = 'changed' where id between 1000 and 1400`);
      await source.query(`insert into events (at, note) values (clock_timestamp(), 'sentinel before T')`);
      atT = await tableHashes(source.target);
      await sleep(300);
      t = new Date();
      await sleep(300);
      await source.query(`insert into events (at, note) values (clock_timestamp(), 'sentinel after T')`);
      await source.query('delete from ledger where id % 3 = 0');
      backups.inc2 = await takeBaseBackup(platform, 'inc17', 'inc2');
      await waitUntilArchived(platform, source);
    },
  });

  it('takes a full, then increments against the previous backup, each with its manifest stored beside it', async () => {
    const { platform } = pitr;
    assert.deepEqual(
      [backups.full!.kind, backups.inc1!.kind, backups.inc2!.kind],
      ['full', 'incremental', 'incremental'],
    );
    assert.equal(backups.inc1!.parentId, backups.full!.baseBackupId);
    assert.equal(backups.inc2!.parentId, backups.inc1!.baseBackupId);
    assert.match(backups.full!.kindReason ?? '', /no earlier complete base backup/);
    assert.ok(
      backups.inc1!.rawBytes < backups.full!.rawBytes / 2,
      `the increment (${backups.inc1!.rawBytes} bytes) holds less than half of the full (${backups.full!.rawBytes})`,
    );
    for (const b of Object.values(backups)) {
      const record = await platform.runtime.catalog.wal.getBaseBackup(b.baseBackupId);
      assert.ok(record.manifestKey, `${b.baseBackupId} records its manifest`);
      // Encrypted like every PITR object: never a readable JSON manifest in storage.
      const bytes = await import('node:fs/promises').then((fs) =>
        fs.readFile(path.join(platform.backupsDir, record.manifestKey!)),
      );
      assert.ok(bytes.length > 0 && !bytes.includes(Buffer.from('PostgreSQL-Backup-Manifest-Version')));
    }
  });

  it('restores to T by combining the full with the increment before T: every table equals the source at T', async () => {
    const { source } = pitr;
    const { outcome } = await pitr.restoreToTime('restored-inc-at-t', t, 'inc-at-t');
    assert.equal(
      outcome.baseBackupId,
      backups.inc1!.baseBackupId,
      'the newest base backup stopping before T is the first increment',
    );
    assert.deepEqual(
      outcome.baseBackupChain,
      [backups.full!.baseBackupId, backups.inc1!.baseBackupId],
      'the full and the increment were both extracted and combined',
    );
    const restored = await tableHashes({
      ...source.target,
      host: '127.0.0.1',
      port: outcome.port!,
      sslmode: 'disable',
    });
    assert.deepEqual(restored, atT, "ordered hashes of every table equal the source's at T");
    const client = await connect('restored', {
      ...source.target,
      host: '127.0.0.1',
      port: outcome.port!,
      sslmode: 'disable',
    });
    try {
      const { rows } = await client.query<{ note: string }>(
        `select note from events where note like 'sentinel%' order by id`,
      );
      assert.deepEqual(
        rows.map((r) => r.note),
        ['sentinel before T'],
        'the sentinel before T is there, the one after is not',
      );
    } finally {
      await client.end();
    }
  });

  it('the chain monitor reports an increment whose parent is gone, and the next base backup is a full', async () => {
    const { platform } = pitr;
    const inc1 = await platform.runtime.catalog.wal.getBaseBackup(backups.inc1!.baseBackupId);
    await rm(path.join(platform.backupsDir, inc1.objectKey));
    const state = await pitr.chainMonitorUntil(
      'the broken chain',
      (s) => (s.last?.brokenChains ?? []).length > 0 && s.baseBackupsStarted.length > 0,
    );
    assert.deepEqual(
      state.last!.brokenChains!.map((b) => b.id),
      [backups.inc2!.baseBackupId],
    );
    assert.match(state.last!.brokenChains![0]!.reason, new RegExp(`base backup ${inc1.id} is missing from storage`));
    const notified = (await platform.runtime.catalog.health.notifications('inc17')).filter(
      (n) => n.event === 'wal_chain_broken',
    );
    assert.ok(
      notified.some((n) => /incremental base backup chain of database "inc17" is broken/.test(n.message)),
      'the broken chain is notified',
    );
    const next = (await platform.client.workflow
      .getHandle(state.baseBackupsStarted[0]!.workflowId)
      .result()) as BaseBackupProgress;
    assert.equal(next.kind, 'full');
    assert.match(next.kindReason ?? '', /is broken/);
    await platform.client.workflow.getHandle('walchain/inc17').terminate('checked');
  });

  it('takes a full, saying how to turn it on, when summarize_wal is off', async () => {
    const { platform, source } = pitr;
    await source.query('alter system set summarize_wal = off');
    await source.query('select pg_reload_conf()');
    const off = await takeBaseBackup(platform, 'inc17', 'summaries-off');
    assert.equal(off.kind, 'full');
    assert.match(off.kindReason ?? '', /summarize_wal is off on the server.*ALTER SYSTEM SET summarize_wal = on/);
    const [setting] = await source.query<{ summarize_wal: string }>('show summarize_wal');
    assert.equal(setting!.summarize_wal, 'off', "Hindsight left the source's setting alone");
  });
});
