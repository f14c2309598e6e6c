/**
 * PITR of a whole server, on the PITR scenario's source cluster (test/integration/pitr-extract.test.ts):
 * `server pitr on` sets one archive up for the cluster that the server's databases share, both
 * databases are recovered to one moment from it, a database created later and discovered by a run
 * shares it too (still one replication slot), and `server pitr off` stops it, leaving storage.
 */
import assert from 'node:assert/strict';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { systemActor } from '../../services/authz.ts';
import type { PitrOutcome } from '../../temporal/contracts/pitr.ts';
import { restoredRows, waitUntilArchived } from './pitr-fixture.ts';
import type { PitrScenario } from './pitr-scenario.ts';
import { createDatabase } from './platform.ts';

const CARRIER = 'pg1-postgres';

/** One statement on its own connection. */
export async function sql<T extends object>(target: PgTarget, text: string, params: unknown[] = []): Promise<T[]> {
  const client = await connect('test', target);
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const slotsOf = async (pitr: PitrScenario) =>
  (await sql<{ slot_name: string }>(pitr.source.target, 'select slot_name from pg_replication_slots order by 1')).map(
    (s) => s.slot_name,
  );

const insert = async (target: PgTarget, note: string) =>
  (
    await sql<{ id: number }>(target, 'insert into events (at, note) values (clock_timestamp(), $1) returning id', [
      note,
    ])
  )[0]!.id;

export interface ServerPitrWorld {
  pitr: PitrScenario;
  shop2: PgTarget;
  t: string;
  ids: Record<'shopBefore' | 'shopAfter' | 'shop2Before' | 'shop2After', number>;
}

/**
 * shop stops archiving alone; pg1 is added over the cluster, and shop2 becomes a database the
 * server registered (as a run would have, without the run's backups).
 */
export async function addsTheServer({ pitr }: ServerPitrWorld): Promise<void> {
  const { services, runtime } = pitr.platform;
  await services.pitr.disable(systemActor, 'shop', { waitMs: 15_000 });
  const url = targetUrl({ ...pitr.source.target, database: 'postgres' });
  await services.servers.add(systemActor, { name: 'pg1', url, allDatabases: true, verifyAfterBackup: false });
  await runtime.catalog.servers.linkDatabase('pg1', 'shop2');
}

/** One archive for the cluster: a new slot for the server, both registered databases share it. */
export async function turnsServerPitrOn({ pitr }: ServerPitrWorld): Promise<void> {
  const { services, runtime, client } = pitr.platform;
  const on = await services.servers.pitrOn(systemActor, 'pg1', { partialIntervalMs: 500 });
  assert.deepEqual([on.archiveDatabase, on.tookOver, on.joined], [CARRIER, false, ['shop2']]);
  assert.ok(on.baseBackup, 'a first base backup is taken');
  await client.workflow.getHandle(on.baseBackup.workflowId).result();
  assert.deepEqual(await slotsOf(pitr), ['hindsight_pg1_postgres'], "one slot, the server's");
  assert.equal((await runtime.catalog.wal.config('shop2')).archiveDatabase, CARRIER);
  const again = await services.pitr.enable(systemActor, 'shop2', { firstBaseBackup: false });
  assert.deepEqual([again.sharesServerArchive, again.sharesArchiveOf], ['pg1', CARRIER]);
}

/** Rows before and after one moment T in both databases, all of it in storage. */
export async function writesAroundT(w: ServerPitrWorld): Promise<void> {
  const shop = w.pitr.source.target;
  w.ids.shopBefore = await insert(shop, 'shop before T');
  w.ids.shop2Before = await insert(w.shop2, 'shop2 before T');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const [row] = await sql<{ t: string }>(
    shop,
    `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`,
  );
  w.t = row!.t;
  await new Promise((resolve) => setTimeout(resolve, 300));
  w.ids.shopAfter = await insert(shop, 'shop after T');
  w.ids.shop2After = await insert(w.shop2, 'shop2 after T');
  await waitUntilArchived(w.pitr.platform, { ...w.pitr.source, database: CARRIER });
}

/** The whole cluster at T from the server's archive: each database has its before-row and not its after-row. */
export async function restoresTheClusterAtT({ pitr, shop2, t, ids }: ServerPitrWorld): Promise<void> {
  const { services } = pitr.platform;
  const database = await services.servers.archiveOf(systemActor, 'pg1');
  const directory = pitr.restoredDir('server-at-t');
  const started = await services.restores.start(systemActor, {
    database,
    pointInTime: { time: t },
    to: { directory },
  });
  const outcome = (await started.result()) as PitrOutcome;
  const shopIds = (await restoredRows(pitr.source, outcome.port!)).map((r) => r.id);
  assert.ok(shopIds.includes(ids.shopBefore) && !shopIds.includes(ids.shopAfter), `shop at T: ${shopIds.length}`);
  const restored2 = { ...shop2, host: '127.0.0.1', port: outcome.port!, sslmode: 'disable' as const };
  const shop2Ids = (await sql<{ id: number }>(restored2, 'select id from events')).map((r) => r.id);
  assert.ok(shop2Ids.includes(ids.shop2Before) && !shop2Ids.includes(ids.shop2After), 'shop2 at T');
  const shown = await services.servers.show(systemActor, 'pg1');
  assert.equal(shown.pitr.enabled, true);
  assert.ok(shown.pitr.windows.length > 0, 'server show tells the recoverable window');
}

/** Databases registered by a run after PITR went on share the archive: still exactly one slot. */
export async function aLaterDatabaseShares({ pitr }: ServerPitrWorld): Promise<void> {
  const { services, runtime } = pitr.platform;
  const late = await createDatabase(pitr.source.cluster, 'late');
  await sql(late, 'create table t (id int)');
  const run = await (await services.servers.run(systemActor, 'pg1')).result();
  assert.deepEqual(
    run.registered.map((r) => r.name),
    ['pg1-late', 'pg1-shop'],
  );
  assert.deepEqual(
    run.backups.map((b) => [b.database, b.status]),
    [
      ['pg1-late', 'complete'],
      ['pg1-shop', 'complete'],
      ['shop2', 'complete'],
    ],
    'the carrier is backed up only with --include-postgres',
  );
  for (const name of ['pg1-late', 'pg1-shop'])
    assert.equal((await runtime.catalog.wal.config(name)).archiveDatabase, CARRIER);
  assert.deepEqual(await slotsOf(pitr), ['hindsight_pg1_postgres'], 'exactly one replication slot');
}

/** Off is refused while a database registered on its own shares the archive; then stops and drops the slot. */
export async function turnsServerPitrOff({ pitr }: ServerPitrWorld): Promise<void> {
  const { services, runtime } = pitr.platform;
  const joined = await services.pitr.enable(systemActor, 'shop', { firstBaseBackup: false });
  assert.equal(joined.sharesArchiveOf, CARRIER);
  await assert.rejects(services.servers.pitrOff(systemActor, 'pg1'), /also what "shop" restores from/);
  await services.pitr.disable(systemActor, 'shop');
  const off = await services.servers.pitrOff(systemActor, 'pg1', { waitMs: 15_000 });
  assert.deepEqual([off.slotDropped, off.left], [true, ['pg1-late', 'pg1-shop', 'shop2']]);
  assert.deepEqual(await slotsOf(pitr), []);
  assert.equal((await runtime.catalog.wal.config('pg1-late')).enabled, false);
  assert.ok((await runtime.catalog.wal.segmentsOf(CARRIER)).length > 0, 'the archive stays in storage');
}
