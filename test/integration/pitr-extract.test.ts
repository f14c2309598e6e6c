import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { systemActor } from '../../services/authz.ts';
import type { PitrOutcome } from '../../temporal/contracts/pitr.ts';
import { restoredRows, takeBaseBackup, waitUntilArchived } from '../support/pitr-fixture.ts';
import { usePitrScenario, type PitrScenario } from '../support/pitr-scenario.ts';
import { createDatabase, startTestCluster } from '../support/platform.ts';
import {
  aLaterDatabaseShares,
  addsTheServer,
  restoresTheClusterAtT,
  turnsServerPitrOff,
  turnsServerPitrOn,
  sql,
  writesAroundT,
  type ServerPitrWorld,
} from '../support/server-pitr.ts';

/**
 * Two databases of one PostgreSQL server on one PITR archive: the second joins the first one's
 * archive (no second slot or stream), each restores to its own point in time from it, and the
 * second is extracted at its point in time into another, real PostgreSQL server. Then the same
 * cluster is registered as a server whose one archive all its databases share (server-pitr.ts).
 */

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

/** What the steps share: the scenario (server of shop and shop2), the other server, the times and rows. */
interface World {
  pitr: PitrScenario;
  other: LocalCluster;
  shop2: PgTarget;
  t1: string;
  t2: string;
  ids: Record<'shopBefore' | 'shopAfter' | 'shop2Before' | 'shop2After', number>;
  hashesAtT2: Record<string, string>;
}

async function setUpShop2(w: Partial<World>, s: PitrScenario): Promise<void> {
  w.other = await startTestCluster(path.join(s.platform.dir, 'other'), { major: 15 });
  w.shop2 = await createDatabase(s.source.cluster, 'shop2');
  await sql(
    w.shop2,
    `create table events (id serial primary key, at timestamptz not null, note text not null);
     create role reporter nologin;
     create table notes (id serial primary key, body text not null);
     alter table notes owner to reporter;
     insert into notes (body) select 'note ' || g from generate_series(1, 50) g`,
  );
  await s.platform.ops.addDatabase({ name: 'shop2', url: targetUrl(w.shop2), verifyAfterBackup: false });
}

async function joinsTheArchive({ pitr }: World): Promise<void> {
  const { services, runtime } = pitr.platform;
  const joined = await services.pitr.enable(systemActor, 'shop2', { firstBaseBackup: false });
  assert.equal(joined.sharesArchiveOf, 'shop');
  assert.equal(joined.archiverWorkflowId, 'wal/shop');
  const slots = await sql<{ slot_name: string }>(pitr.source.target, 'select slot_name from pg_replication_slots');
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
}

async function writeSentinels(w: World): Promise<void> {
  const shop = w.pitr.source.target;
  await takeBaseBackup(w.pitr.platform, 'shop', 'first');
  w.ids.shopBefore = await insertSentinel(shop, 'shop before T1');
  w.t1 = await pause(shop);
  w.ids.shopAfter = await insertSentinel(shop, 'shop after T1');
  w.ids.shop2Before = await insertSentinel(w.shop2, 'shop2 before T2');
  await sql(w.shop2, `update notes set body = body || ' (edited)' where id % 7 = 0`);
  w.hashesAtT2 = await tableHashes(w.shop2);
  w.t2 = await pause(w.shop2);
  w.ids.shop2After = await insertSentinel(w.shop2, 'shop2 after T2');
  await sql(w.shop2, `delete from notes where id <= 10`);
  await waitUntilArchived(w.pitr.platform, w.pitr.source);
}

async function restoresShopToT1({ pitr, t1, ids }: World): Promise<void> {
  const { outcome } = await pitr.restoreInto('shop-t1', { time: t1 }, 'shop-t1');
  const restored = (await restoredRows(pitr.source, outcome.port!)).map((r) => r.id);
  assert.ok(restored.includes(ids.shopBefore), 'the row written before T1 is present');
  assert.ok(!restored.includes(ids.shopAfter), 'the row written after T1 is absent');
}

async function extractsShop2AtT2({ pitr, other, t2, ids, hashesAtT2 }: World): Promise<void> {
  const target = other.target('shop2_at_t2');
  const started = await pitr.platform.services.restores.start(systemActor, {
    database: 'shop2',
    pointInTime: { time: t2 },
    to: { url: targetUrl(target), withOwners: true },
  });
  const outcome = (await started.result()) as PitrOutcome;
  const extracted = outcome.extracted!;
  assert.ok(extracted, 'the outcome reports the extraction');
  assert.deepEqual([extracted.created, extracted.tables, extracted.rows], [true, 2, 50 + 1]);
  assert.ok(extracted.bytes > 0 && extracted.durationMs > 0);
  assert.equal(extracted.ownership.mode, 'with-owners');
  assert.ok(extracted.ownership.created.includes('reporter'), JSON.stringify(extracted.ownership));
  assert.ok(Date.parse(outcome.lastTransactionTime!) <= Date.parse(t2), 'recovery stopped at T2');
  assert.deepEqual([outcome.kept, outcome.dataDirectory], [false, null]);
  const sandboxes = await readdir(path.join(pitr.platform.dir, 'sandboxes')).catch(() => []);
  assert.deepEqual(
    sandboxes.filter((d) => d.startsWith('pitr-')),
    [],
    'the sandbox is removed',
  );

  assert.deepEqual(await tableHashes(target), hashesAtT2, 'every table as it was at T2');
  const copied = (await sql<{ id: number }>(target, 'select id from events')).map((r) => r.id);
  assert.ok(copied.includes(ids.shop2Before) && !copied.includes(ids.shop2After));
  const [owner] = await sql<{ o: string }>(target, `select tableowner as o from pg_tables where tablename = 'notes'`);
  assert.equal(owner!.o, 'reporter');
}

async function refusesAFilledTarget({ pitr, other, t2, hashesAtT2 }: World): Promise<void> {
  const target = other.target('shop2_at_t2');
  await assert.rejects(
    pitr.platform.services.restores.start(systemActor, {
      database: 'shop2',
      pointInTime: { time: t2 },
      to: { url: targetUrl(target) },
    }),
    /already holds 2 table\(s\): restore into a new or empty database/,
  );
  assert.deepEqual(await tableHashes(target), hashesAtT2);
}

async function leavesTheArchive({ pitr }: World): Promise<void> {
  const { services, runtime } = pitr.platform;
  const left = await services.pitr.disable(systemActor, 'shop2');
  assert.equal(left.leftArchiveOf, 'shop');
  assert.equal((await runtime.catalog.wal.config('shop2')).enabled, false);
  const slots = await sql(pitr.source.target, `select slot_name from pg_replication_slots`);
  assert.equal(slots.length, 1, "shop's slot stays");
}

describe('PITR: several databases of one server, and one database extracted into another server', () => {
  const w: Partial<World> = { ids: {} as World['ids'] };
  w.pitr = usePitrScenario('shop', {
    major: 15,
    setUp: (s) => setUpShop2(w, s),
    tearDown: () => w.other?.stop('immediate').catch(() => undefined),
  });
  const world = () => w as World;

  it('a second database of the same server joins the archive: no second slot, its status reads the archive', () =>
    joinsTheArchive(world()));
  it('writes sentinels around T1 (shop) and T2 (shop2), all archived', () => writeSentinels(world()));
  it('restores shop to T1 from the shared archive: its before-row and not its after-row', () =>
    restoresShopToT1(world()));
  it('extracts shop2 at T2 into another server: equal table hashes, owners kept, sandbox removed', () =>
    extractsShop2AtT2(world()));
  it('refuses a target that already holds tables at once, naming it, and leaves it untouched', () =>
    refusesAFilledTarget(world()));
  it('turning PITR off for the sharing database just leaves: the archive streams on', () => leavesTheArchive(world()));

  // PITR of the whole server (docs/servers.md): the same cluster, now registered as server pg1.
  const sw: Partial<ServerPitrWorld> = { ids: {} as ServerPitrWorld['ids'] };
  const server = () => Object.assign(sw, { pitr: w.pitr, shop2: w.shop2 }) as ServerPitrWorld;
  it('server pitr on: one archive and one slot for the cluster, its registered database shares it', async () => {
    await addsTheServer(server());
    await turnsServerPitrOn(server());
  });
  it('restores the whole cluster to T from the server archive: both databases as they were at T', async () => {
    await writesAroundT(server());
    await restoresTheClusterAtT(server());
  });
  it('databases discovered by a later run share the archive: exactly one slot', () => aLaterDatabaseShares(server()));
  it('server pitr off: refused while a lone database shares, then stops streaming and drops the slot', () =>
    turnsServerPitrOff(server()));
});
