/**
 * The databases of the console database-page test: `shop` (700 items, 130 invoices in a second
 * schema) with five backups aged 40, 30, 20, 10 and 0 days, and `bulk`, large enough that its dump
 * runs for several seconds. Starts the worker. Returns shop's backups, oldest first.
 */
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { startLoading } from './loading.ts';
import { createDatabase, type Platform } from './platform.ts';

const DAY = 86_400_000;

export async function seedShopAndBulk(platform: Platform): Promise<Array<{ id: string; ageDays: number }>> {
  const shopBackups: Array<{ id: string; ageDays: number }> = [];
  const shop = await createDatabase(platform.cluster, 'shop');
  const bulk = await createDatabase(platform.cluster, 'bulk');
  const client = await connect('shop', shop);
  await client.query(`create table items (id int primary key, name text); insert into items select g, md5(g::text) from generate_series(1, 700) g;
    create schema billing; create table billing.invoices (id int primary key, total numeric); insert into billing.invoices select g, g * 2 from generate_series(1, 130) g;`);
  await client.end();
  // Filled while shop's backups run: the two databases have nothing to wait for from each other.
  const { loaded: bulkFilled } = await startLoading('bulk', bulk, READINGS_SQL);
  try {
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(shop), verifyAfterBackup: false });
    for (const ageDays of [40, 30, 20, 10, 0]) {
      const outcome = await (await platform.ops.startBackup('shop')).result();
      shopBackups.push({ id: outcome.backupId, ageDays });
    }
  } finally {
    await bulkFilled;
  }
  await platform.ops.addDatabase({ name: 'bulk', url: targetUrl(bulk), verifyAfterBackup: false });
  // Aged by rewriting their times in the catalog, as if taken over forty days; the newest stays fresh.
  for (const b of shopBackups.filter((b) => b.ageDays > 0)) {
    const at = new Date(Date.now() - b.ageDays * DAY);
    await platform.runtime.catalog.pool.query(
      "update backups set started_at = $2::timestamptz, finished_at = $2::timestamptz + interval '3 seconds' where id = $1",
      [b.id, at],
    );
  }
  return shopBackups;
}

/** Large enough that its dump runs for several seconds, so the stream sees it mid-way. */
const READINGS_SQL = `create table readings (id bigint primary key, sensor int, value double precision, note text);
  insert into readings select g, g % 977, random(), md5(g::text) || md5((g * 7)::text) from generate_series(1, 2400000) g`;

/**
 * Holds every dump of `bulk` at its first lock until released, so that a cancel never races the
 * dump's end on a slow machine: an open transaction keeps `readings` locked ACCESS EXCLUSIVE.
 */
export async function holdBulkDumps(platform: Platform): Promise<() => Promise<void>> {
  const client = await connect('bulk', await platform.runtime.catalog.databaseTarget('bulk'));
  await client.query('begin; lock table readings in access exclusive mode');
  return async () => {
    await client.query('rollback').catch(() => undefined);
    await client.end();
  };
}
