import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { systemActor } from '../../services/authz.ts';
import type { PitrOutcome } from '../../temporal/contracts/pitr.ts';
import { restoredRows, takeBaseBackup, waitUntilArchived } from '../support/pitr-fixture.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';
import { createDatabase, startTestCluster } from '../support/platform.ts';

/**
 * Two databases of one PostgreSQL server on one PITR archive: the second joins the first one's
 * archive (no second slot or stream), each restores to its own point in time from it, and the
 * second is extracted at its point in time into another, real PostgreSQL server.
 */
async function sql<T extends object>(target: PgTarget, text: string, params: unknown[] = []): Promise<T[]> {
  const client = await connect('test', target);
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** A content hash of each table: equal hashes, equal rows. */
const tableHashes = (target: PgTarget) =>
  sql<{ t: string; h: string }>(
    target,
    `select 'events' as t, md5(coalesce(string_agg(e::text, '|' order by id), '')) as h from events e
     union all select 'notes', md5(coalesce(string_agg(n::text, '|' order by id), '')) from notes n order by 1`,
  ).then((rows) => Object.fromEntries(rows.map((r) => [r.t, r.h])));

const insertSentinel = async (target: PgTarget, note: string) =>
  (
    await sql<{ id: number }>(target, `insert into events (at, note) values (clock_timestamp(), $1) returning id`, [
      note,
    ])
  )[0]!.id;

/** A moment strictly between two commits, read from the server's own clock. */
async function pause(target: PgTarget): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const [row] = await sql<{ t: string }>(
    target,
    `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`,
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  return row!.t;
}

describe('PITR: several databases of one server, and one database extracted into another server', () => {
  let other: LocalCluster;
  let shop2: PgTarget;
  const pitr = usePitrScenario('shop', {
    major: 15,
    setUp: async (s) => {
      other = await startTestCluster(path.join(s.platform.dir, 'other'), { major: 15 });
      shop2 = await createDatabase(s.source.cluster, 'shop2');
      await sql(
        shop2,
        `create table events (id serial primary key, at timestamptz not null, note text not null);
         create role reporter nologin;
         create table notes (id serial primary key, body text not null);
         alter table notes owner to reporter;
         insert into notes (body) select 'note ' || g from generate_series(1, 50) g`,
      );
      await s.platform.ops.addDatabase({ name: 'shop2', url: targetUrl(shop2), verifyAfterBackup: false });
    },
    tearDown: () => other?.stop('immediate').catch(() => undefined),
  });
  const shop = () => pitr.source.target;
  const times: { t1?: string; t2?: string; ids: Record<string, number>; hashesAtT2?: Record<string, string> } = {
    ids: {},
  };

  it('a second database of the same server joins the archive: no second slot, its status reads the archive', async () => {
    const { services, runtime } = pitr.platform;
    const joined = await services.pitr.enable(systemActor, 'shop2', { firstBaseBackup: false });
    assert.equal(joined.sharesArchiveOf, 'shop');
    assert.equal(joined.archiverWorkflowId, 'wal/shop');
    const slots = await sql<{ slot_name: string }>(shop(), 'select slot_name from pg_replication_slots order by 1');
    assert.deepEqual(
      slots.map((s) => s.slot_name),
      ['hindsight_shop'],
      'one slot for the cluster',
    );
    const status = await services.pitr.walStatus(systemActor, 'shop2');
    assert.equal(status.sharesArchiveOf, 'shop');
    assert.ok(status.segments.complete + status.segments.partial > 0, "shop2's status counts shop's archive");
    assert.equal((await runtime.catalog.wal.config('shop2')).archiveDatabase, 'shop');
    await assert.rejects(services.pitr.disable(systemActor, 'shop'), /"shop2" also restores from/);
  });

  it('writes sentinels around T1 (shop) and T2 (shop2), all archived', async () => {
    await takeBaseBackup(pitr.platform, 'shop', 'first');
    times.ids.shopBefore = await insertSentinel(shop(), 'shop before T1');
    times.t1 = await pause(shop());
    times.ids.shopAfter = await insertSentinel(shop(), 'shop after T1');
    times.ids.shop2Before = await insertSentinel(shop2, 'shop2 before T2');
    await sql(shop2, `update notes set body = body || ' (edited)' where id % 7 = 0`);
    times.hashesAtT2 = await tableHashes(shop2);
    times.t2 = await pause(shop2);
    times.ids.shop2After = await insertSentinel(shop2, 'shop2 after T2');
    await sql(shop2, `delete from notes where id <= 10`);
    await waitUntilArchived(pitr.platform, pitr.source);
  });

  it('restores shop to T1 from the shared archive: its before-row and not its after-row', async () => {
    const { outcome } = await pitr.restoreInto('shop-t1', { time: times.t1! }, 'shop-t1');
    const ids = (await restoredRows(pitr.source, outcome.port!)).map((r) => r.id);
    assert.ok(ids.includes(times.ids.shopBefore!), 'the row written before T1 is present');
    assert.ok(!ids.includes(times.ids.shopAfter!), 'the row written after T1 is absent');
  });

  it('extracts shop2 at T2 into another server: equal table hashes, owners kept, sandbox removed', async () => {
    const target = { ...other.target('shop2_at_t2') };
    const started = await pitr.platform.services.restores.start(systemActor, {
      database: 'shop2',
      pointInTime: { time: times.t2! },
      to: { url: targetUrl(target), withOwners: true },
    });
    const outcome = (await started.result()) as PitrOutcome;
    const extracted = outcome.extracted!;
    assert.ok(extracted, 'the outcome reports the extraction');
    assert.equal(extracted.created, true);
    assert.equal(extracted.tables, 2);
    assert.ok(extracted.bytes > 0 && extracted.durationMs > 0);
    assert.equal(extracted.ownership.mode, 'with-owners');
    assert.ok(extracted.ownership.created.includes('reporter'), JSON.stringify(extracted.ownership));
    assert.ok(Date.parse(outcome.lastTransactionTime!) <= Date.parse(times.t2!), 'recovery stopped at T2');
    assert.equal(outcome.kept, false);
    assert.equal(outcome.dataDirectory, null);
    const sandboxes = await readdir(path.join(pitr.platform.dir, 'sandboxes')).catch(() => []);
    assert.deepEqual(
      sandboxes.filter((d) => d.startsWith('pitr-')),
      [],
      'the sandbox is removed',
    );

    assert.deepEqual(await tableHashes(target), times.hashesAtT2, 'every table as it was at T2');
    const ids = (await sql<{ id: number }>(target, 'select id from events')).map((r) => r.id);
    assert.ok(ids.includes(times.ids.shop2Before!) && !ids.includes(times.ids.shop2After!));
    const [owner] = await sql<{ o: string }>(target, `select tableowner as o from pg_tables where tablename = 'notes'`);
    assert.equal(owner!.o, 'reporter');
    assert.equal(extracted.rows, 50 + 1);
  });

  it('refuses a target that already holds tables at once, naming it, and leaves it untouched', async () => {
    const target = other.target('shop2_at_t2');
    await assert.rejects(
      pitr.platform.services.restores.start(systemActor, {
        database: 'shop2',
        pointInTime: { time: times.t2! },
        to: { url: targetUrl(target) },
      }),
      /already holds 2 table\(s\): restore into a new or empty database/,
    );
    assert.deepEqual(await tableHashes(target), times.hashesAtT2);
  });

  it('turning PITR off for the sharing database just leaves: the archive streams on', async () => {
    const { services, runtime } = pitr.platform;
    const left = await services.pitr.disable(systemActor, 'shop2');
    assert.equal(left.leftArchiveOf, 'shop');
    assert.equal((await runtime.catalog.wal.config('shop2')).enabled, false);
    const slots = await sql<{ n: string }>(shop(), `select count(*)::text as n from pg_replication_slots`);
    assert.equal(slots[0]!.n, '1', "shop's slot stays");
  });
});
