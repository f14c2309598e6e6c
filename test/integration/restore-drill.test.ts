/**
 * Restore drills into a second, real PostgreSQL server: the schedule's workflow restores the newest
 * backup into a fresh database there (held before its drop and compared table by table with the
 * source), records time and size, and drops it; a target that refuses fails the drill, naming the
 * target without its password, and notifies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { drillTestHooks } from '../../lib/drill/test-hooks.ts';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { spreadSecond } from '../../lib/schedule/spread.ts';
import { systemActor } from '../../services/authz.ts';
import { restoreDrillScheduleId } from '../../temporal/contracts/restore-drill.ts';
import { createConsoleMetrics } from '../../web/metrics.ts';
import {
  createDatabase,
  startPlatform,
  startTestCluster,
  tableFingerprint,
  type Platform,
} from '../support/platform.ts';
import { startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import { waitFor } from '../support/wait.ts';

const PASSWORD = 'drill-pw-4f1c2b9a7e';

/** Svelte's hydration markers (`<!--[0-->`) out of the way of the assertions. */
const withoutComments = (html: string) => html.replace(/<!--.*?-->/gs, '');

/** The user tables of a database, as `schema.table`, in order. */
async function tablesOf(target: PgTarget): Promise<string[]> {
  const client = await connect('tables', target);
  try {
    const { rows } = await client.query<{ t: string }>(
      `select quote_ident(table_schema) || '.' || quote_ident(table_name) as t from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') order by 1`,
    );
    return rows.map((r) => r.t);
  } finally {
    await client.end();
  }
}

/** Every table's ordered hash (ordered by its whole row). */
async function fingerprints(target: PgTarget): Promise<Record<string, { rows: number; md5: string }>> {
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const table of await tablesOf(target)) out[table] = await tableFingerprint(target, table, 't::text');
  return out;
}

async function drillDatabasesOn(cluster: LocalCluster): Promise<string[]> {
  const client = await connect('target', cluster.target('postgres'));
  try {
    const { rows } = await client.query<{ datname: string }>(
      `select datname from pg_database where datname like 'hindsight\\_drill\\_%' order by 1`,
    );
    return rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

async function onTarget(cluster: LocalCluster, sql: string): Promise<void> {
  const client = await connect('target', cluster.target('postgres'));
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('restore drills into a real target server', () => {
  let platform: Platform;
  let target: LocalCluster;
  let source: PgTarget;
  let web: SignedInConsole;
  const api = (path: string, init: RequestInit = {}) =>
    web.fetch(`${web.url}/api/v1${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', origin: web.url },
    });
  const drillUrl = (password: string) =>
    `postgres://drill:${encodeURIComponent(password)}@127.0.0.1:${target.port}/postgres`;

  before(async () => {
    platform = await startPlatform();
    target = await startTestCluster(platform.dir, { name: 'target' });
    await onTarget(target, `create role drill login createdb password '${PASSWORD}'`);
    source = await createDatabase(platform.cluster, 'shop');
    const client = await connect('shop', source);
    await client.query(`create schema sales;
      create table customers (id int primary key, name text not null, email text unique);
      insert into customers select g, 'customer ' || g, 'c' || g || '@example.com' from generate_series(1, 5000) g;
      create table sales.orders (id bigserial primary key, customer_id int references customers, total numeric(10,2), at timestamptz);
      insert into sales.orders (customer_id, total, at)
        select 1 + g % 5000, (g % 997) * 1.5, '2026-01-01'::timestamptz + g * interval '1 minute' from generate_series(1, 20000) g;
      create index orders_by_customer on sales.orders (customer_id);`);
    await client.end();
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), verifyAfterBackup: false });
    await (await platform.ops.startBackup('shop')).result();
    web = await startSignedInConsole(platform);
  });

  after(async () => {
    drillTestHooks.beforeDrop = undefined;
    await web?.close();
    await platform?.stop();
    await target?.stop('immediate').catch(() => undefined);
  });

  it('runs from its schedule: restores every table as the source holds it, records time and size, drops the database', async () => {
    const { services } = platform;
    const settings = await services.restoreDrills.set(systemActor, 'shop', { target: drillUrl(PASSWORD) });
    assert.equal(settings.target, `postgres://drill@127.0.0.1:${target.port}/postgres`, 'shown without its password');
    assert.match(settings.cron, /^\d{1,2} 3 1 \* \*$/, 'monthly by default, at the database’s own minute');
    const schedule = await platform.client.schedule.getHandle(restoreDrillScheduleId('shop')).describe();
    const next = schedule.info.nextActionTimes[0]!;
    const own = spreadSecond('shop');
    assert.deepEqual(
      [next.getUTCDate(), next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()],
      [1, 3, own, own],
      'Temporal runs it on the 1st at 03:MM:SS, MM and SS the database’s own',
    );
    // A drill database a crash left, and another database's: the drill drops the first only.
    await onTarget(target, `create database hindsight_drill_shop_20200101000000 owner drill`);
    await onTarget(target, `create database hindsight_drill_shop_eu_20200101000000 owner drill`);

    const held: { tables?: Record<string, { rows: number; md5: string }>; database?: string } = {};
    drillTestHooks.beforeDrop = async (restored) => {
      held.database = restored.database;
      held.tables = await fingerprints(restored);
    };
    await platform.client.schedule.getHandle(restoreDrillScheduleId('shop')).trigger();
    const drill = await waitFor(
      'the scheduled drill to end',
      async () => {
        const [last] = await services.restoreDrills.list(systemActor, 'shop');
        return last && last.status !== 'running' ? last : undefined;
      },
      60_000,
    );
    drillTestHooks.beforeDrop = undefined;

    assert.equal(drill.status, 'successful', drill.error ?? '');
    assert.equal(drill.trigger, 'schedule');
    assert.ok(drill.timeToUsableSeconds! > 0, 'a time to usable is recorded');
    assert.ok(drill.restoredBytes! > 1024 * 1024, `the restored size is recorded (${drill.restoredBytes})`);
    assert.equal(drill.tablesChecked, 2);
    assert.match(held.database!, /^hindsight_drill_shop_\d{14}$/);
    assert.deepEqual(drill.target, { host: '127.0.0.1', port: target.port, database: held.database });
    assert.deepEqual(held.tables, await fingerprints(source), 'the drill database held exactly the source’s rows');
    assert.deepEqual(
      await drillDatabasesOn(target),
      ['hindsight_drill_shop_eu_20200101000000'],
      'its own database and the one a crash left are dropped, another database’s drill is not',
    );

    const metrics = createConsoleMetrics({ status: () => services.status.databases(systemActor) });
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      new RegExp(`hindsight_restore_drill_time_to_usable_seconds\\{database="shop"\\} ${drill.timeToUsableSeconds}`),
    );
    assert.match(text, /hindsight_restore_drill_last_success\{database="shop"\} 1/);

    // The console's database page: the settings, the last drill, and its point on a chart of its own.
    const page = withoutComments(await web.page('/databases/shop'));
    assert.match(
      page,
      new RegExp(
        `data-testid="restore-drill">into <span class="mono">postgres://drill@127\\.0\\.0\\.1:${target.port}/postgres`,
      ),
    );
    assert.match(page, /data-testid="restore-drill-last">last: successful [^<]*to usable, [^<]*, 2 tables checked/);
    assert.match(page, /data-testid="drill-chart"/);
    assert.ok(!page.includes(PASSWORD), 'the page holds no password');
    // The API lists the same drill.
    const shown = await hindsightResult(platform.configEnv, ['db', 'show', 'shop']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      new RegExp(
        `^restore drill into postgres://drill@127\\.0\\.0\\.1:${target.port}/postgres on "${settings.cron.replace(/\*/g, '\\*')}" \\(UTC\\)\n  last drill  successful [^:]+:\\d\\d:\\d\\d\\.\\d+Z: [\\d.]+ s to usable, [^,]+, 2 tables checked$`,
        'm',
      ),
    );
    const listed = (await (await api('/databases/shop/restore-drills')).json()) as Array<{ id: string }>;
    assert.deepEqual(
      listed.map((d) => d.id),
      [drill.id],
    );
  });

  it('drops the drill database also when the drill fails midway', async () => {
    const { services } = platform;
    drillTestHooks.beforeDrop = async (restored) => {
      assert.deepEqual(await drillDatabasesOn(target), [restored.database, 'hindsight_drill_shop_eu_20200101000000']);
      throw new Error('the drill stops here');
    };
    try {
      const outcome = await (await services.restoreDrills.run(systemActor, 'shop')).finished();
      assert.equal(outcome.status, 'failed');
      assert.match(outcome.error!, /the drill stops here/);
    } finally {
      drillTestHooks.beforeDrop = undefined;
    }
    assert.deepEqual(await drillDatabasesOn(target), ['hindsight_drill_shop_eu_20200101000000']);
  });

  it('fails a drill whose target refuses, naming the target without the password, and notifies', async () => {
    const { services } = platform;
    const wrong = 'not-the-password-83c1';
    await services.restoreDrills.set(systemActor, 'shop', { target: drillUrl(wrong) });
    const ran = await hindsightResult(platform.configEnv, ['db', 'drill', 'shop', '--wait']);
    assert.equal(ran.code, 1, 'a failed drill exits 1');
    const drillId = /^restore drill (d-[0-9a-f]+) of "shop": failed /.exec(ran.stdout)?.[1];
    assert.ok(drillId, ran.stdout + ran.stderr);
    assert.ok(!ran.stdout.includes(wrong));
    const drill = await services.restoreDrills.get(systemActor, 'shop', drillId);
    assert.equal(drill.status, 'failed');
    assert.equal(drill.trigger, 'manual');
    assert.match(
      drill.error!,
      new RegExp(`restore drill target postgres://drill@127\\.0\\.0\\.1:${target.port}/postgres`),
    );
    assert.match(drill.error!, /password authentication failed for user "drill"/);
    assert.ok(!JSON.stringify(drill).includes(wrong), 'the password is nowhere in the record');
    const { rows } = await platform.runtime.catalog.pool.query<{ event: string; message: string }>(
      `select event, message from notifications where dedupe_key = $1`,
      [`restore-drill:${drill.id}:failed`],
    );
    assert.equal(rows.length, 1, 'a notification is queued');
    assert.equal(rows[0]!.event, 'verification_failed');
    assert.match(rows[0]!.message, /restore drill of backup .* of database "shop" into 127\.0\.0\.1:\d+ failed: /);
    assert.ok(!rows[0]!.message.includes(wrong));
    const metrics = createConsoleMetrics({ status: () => services.status.databases(systemActor) });
    assert.match(await metrics.registry.metrics(), /hindsight_restore_drill_last_success\{database="shop"\} 0/);
  });

  it('is switched off: its schedule and target go, its drills stay on record', async () => {
    const { services } = platform;
    const refused = await api('/databases/shop/restore-drill', {
      method: 'PUT',
      body: JSON.stringify({ target: 'mysql://x/y' }),
    });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /"field":"target".*must start with postgres/);
    const viaCli = await hindsightResult(platform.configEnv, [
      'db',
      'update',
      'shop',
      '--restore-drill-cron',
      '10 2 * * 0',
    ]);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.equal(
      viaCli.stdout,
      `database "shop": restore drills into postgres://drill@127.0.0.1:${target.port}/postgres on "10 2 * * 0" (UTC)\n`,
      'the cron alone keeps the target, shown without its password',
    );
    const cronOnly = await web.action('/databases/shop/settings?/drill', { target: '', cron: '15 2 * * 0' });
    assert.equal(cronOnly.type, 'success', cronOnly.data);
    assert.match(
      withoutComments(await web.page('/databases/shop/settings')),
      /Drills restore into postgres:\/\/drill@127\.0\.0\.1:\d+\/postgres on 15 2 \* \* 0\./,
    );
    const off = await web.action('/databases/shop/settings?/drillOff', {});
    assert.equal(off.type, 'success', off.data);
    assert.equal(await services.restoreDrills.settings(systemActor, 'shop'), null);
    assert.match(
      withoutComments(await web.page('/databases/shop/settings')),
      /data-testid="drill-current">Restore drills are off\./,
    );
    await assert.rejects(platform.client.schedule.getHandle(restoreDrillScheduleId('shop')).describe(), /not found/i);
    assert.equal((await services.restoreDrills.list(systemActor, 'shop')).length, 3);
    const { rows: audit } = await platform.runtime.catalog.pool.query<{
      actor: string;
      before: unknown;
      after: unknown;
    }>(
      `select actor, before, after from audit_log where action = 'database.update' and target_name = 'shop'
         and (before::text like '%restoreDrill%' or after::text like '%restoreDrill%') order by id`,
    );
    assert.equal(audit.length, 5, 'each change of the drill is audited: set, wrong password, two crons, off');
    assert.deepEqual(audit[4]!.after, { restoreDrill: null });
    assert.match(JSON.stringify(audit[3]!.after), /"cron":"15 2 \* \* 0"/);
    assert.ok(!JSON.stringify(audit).includes(PASSWORD) && !JSON.stringify(audit).includes('not-the-password'));
    await assert.rejects(services.restoreDrills.run(systemActor, 'shop'), /has no restore drill target/);
  });

  it('refuses a target role that is a superuser, before creating anything there', async () => {
    const superUrl = `postgres://${target.superuser}:${encodeURIComponent(target.password)}@127.0.0.1:${target.port}/postgres`;
    await platform.services.restoreDrills.set(systemActor, 'shop', { target: superUrl });
    const before = await drillDatabasesOn(target);
    const ran = await hindsightResult(platform.configEnv, ['db', 'drill', 'shop', '--wait']);
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    assert.match(
      ran.stdout,
      new RegExp(`role "${target.superuser}" is a superuser, and a restored dump must not run as one`),
    );
    assert.ok(!ran.stdout.includes(target.password), 'the password is not printed');
    assert.deepEqual(await drillDatabasesOn(target), before, 'no drill database was made');
  });
});
