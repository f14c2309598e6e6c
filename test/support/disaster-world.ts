/**
 * The world docs/disaster-recovery.md is followed in. Before the guide: an old host (a platform with
 * a worker) backs up `shop` logically and archives `ledger` for PITR with a row written before and
 * one after a moment T, into a local "bucket" outside the host (and `shop` into a second storage,
 * "nas", too); a catalog backup runs; then the old host's catalog database is dropped and everything
 * of it stopped. The guide then runs on a new host that `npm start` brings up from the key file
 * alone (test/support/guide-host.ts). After the guide the new host is lost in turn, and a new one is
 * rebuilt from the storages alone (`catalog rebuild`).
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, quoteIdent, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { systemActor } from '../../services/authz.ts';
import { CatalogBackupService } from '../../services/catalog-backup/service.ts';
import { newNpmStartHost, type NpmStartHost } from './guide-host.ts';
import { tableHashes } from './guide-platform.ts';
import { createFilledDatabase, startPlatform, startTestCluster, type Platform } from './platform.ts';
import { assertSameTables } from './seeded-platform.ts';
import { walArchiverId, walArchiverWorkflow } from '../../temporal/contracts/pitr.ts';
import { stopArchiver, takeBaseBackup, waitUntilArchived, type PitrSource } from './pitr-fixture.ts';
import { servedAt } from './pitr-scenario.ts';
import { waitFor } from './wait.ts';

const SHOP_SCHEMA = `
  create table orders (id int primary key, total numeric(10,2), note text);
  insert into orders select g, g * 2.5, 'order ' || g from generate_series(1, 2000) g;
  create table customers (id int primary key, email text);
  insert into customers select g, 'c' || g || '@example.org' from generate_series(1, 300) g;
`;
/** The tables of `shop`, each compared ordered by its key. */
const SHOP_TABLES = ['orders', 'customers'].map((table): [string, string] => [table, 'id']);
const LEDGER_SCHEMA = 'create table events (id serial primary key, at timestamptz not null, note text not null)';

export class DisasterWorld {
  readonly dir: string;
  readonly source: LocalCluster;
  readonly shop: PgTarget;
  readonly ledger: PitrSource;
  /** The host the guide's `npm start` runs: its environment, and the test's look at it. */
  newHost!: NpmStartHost;
  /** The old host's backup of `shop`, the one every logical restore of the drill restores. */
  shopBackupId = '';
  /** The values the guide's settings blocks ask for, as this test sets them. */
  settingsUsed: Record<string, string> = {};
  /**
   * How far storage held ledger's WAL when the old host took its catalog backup, and when it was lost:
   * it archived on after the backup, and a catalog restore must bring the rows up to the second.
   */
  archivedAtCatalogBackup = 0n;
  archivedWhenLost = 0n;
  /** The old host's servers stopping, after its catalog is lost. */
  oldHostGone: Promise<void> = Promise.resolve();

  constructor(dir: string, source: LocalCluster, shop: PgTarget, ledger: PitrSource) {
    this.dir = dir;
    this.source = source;
    this.shop = shop;
    this.ledger = ledger;
  }

  get bucket(): { type: 'local'; path: string } {
    return { type: 'local', path: path.join(this.dir, 'bucket') };
  }

  /** The second storage `shop`'s backups go to. */
  get nas(): { type: 'local'; path: string } {
    return { type: 'local', path: path.join(this.dir, 'nas') };
  }

  /** A settings file the reader keeps: written with the owner's permissions only. */
  private async keep(name: string, content: string): Promise<string> {
    const file = path.join(this.dir, name);
    await writeFile(file, content, { mode: 0o600 });
    return file;
  }

  /** The reader's settings of the guide, pointing at this world. */
  async settings(moment: Date, keyHex: string): Promise<Record<string, string>> {
    const withoutPassword = (t: PgTarget) => `postgres://${t.user}@${t.host}:${t.port}/${t.database}`;
    return {
      KEY_FILE: await this.keep('offline-secret.key', `${keyHex}\n`),
      BUCKET_CONFIG: await this.keep('bucket.json', JSON.stringify(this.bucket)),
      RESTORE_TIME: moment.toISOString(),
      RESTORE_DIR: path.join(this.dir, 'ledger-before'),
      SECOND_STORAGE_CONFIG: await this.keep('nas.json', JSON.stringify(this.nas)),
      SHOP_URL: withoutPassword(this.shop),
      SHOP_PASSWORD_FILE: await this.keep('shop.password', `${this.shop.password}\n`),
      LEDGER_URL: withoutPassword(this.ledger.target),
      LEDGER_PASSWORD_FILE: await this.keep('ledger.password', `${this.ledger.target.password}\n`),
    };
  }

  /** The new host's terminals: its environment (data directory, catalog, ports) and a `hindsight` on PATH. */
  async shellEnv(settings: Record<string, string>): Promise<Record<string, string>> {
    const bin = path.join(this.dir, 'bin');
    await mkdir(bin, { recursive: true });
    const cli = path.resolve('bin/hindsight.mjs');
    await writeFile(path.join(bin, 'hindsight'), `#!/bin/sh\nexec '${process.execPath}' '${cli}' "$@"\n`, {
      mode: 0o755,
    });
    // The test runner's own variables stay with it: npm start's processes are not test processes.
    const { NODE_TEST_CONTEXT: _runner, ...inherited } = process.env as Record<string, string>;
    return {
      ...inherited,
      ...this.newHost.env,
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      ...settings,
    };
  }

  /** `database` on the source server holds every row of `shop`, table by table, in the same order. */
  async assertShopCopy(database: string): Promise<void> {
    const restored = await tableHashes({ ...this.shop, database });
    assert.ok(Object.keys(restored).length >= 2, 'the source has tables to compare');
    assert.deepEqual(restored, await tableHashes(this.shop));
    await assertSameTables({ ...this.shop, database }, this.shop, SHOP_TABLES);
  }

  /** The ledger restored to T and served on `port` holds the row written before T, not the one after. */
  async assertLedgerAtMoment(port: number): Promise<void> {
    const restored = servedAt(
      { ...this.ledger, target: { ...this.ledger.target, host: '127.0.0.1', sslmode: 'disable' } },
      port,
    );
    const rows = await restored.query<{ note: string }>('select note from events order by id');
    assert.deepEqual(
      rows.map((r) => r.note),
      ['before'],
      'the row written before T is there, the one after is not',
    );
  }

  /** Everything but the new host, which its `npm start` stops (GuideShell.interrupt) before this. */
  async stop(): Promise<void> {
    await this.oldHostGone;
    await this.source.stop('immediate').catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function ledgerSource(cluster: LocalCluster): Promise<PitrSource> {
  const target = await createFilledDatabase(cluster, 'ledger', LEDGER_SCHEMA);
  const query = async <T extends object>(sql: string, params: unknown[] = []) => {
    const client = await connect('ledger', target);
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  };
  return { cluster, target, database: 'ledger', query };
}

export async function startDisasterWorld(): Promise<DisasterWorld> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-dr-'));
  await chmod(dir, 0o755);
  // 15: the major whose pg_controldata PITR needs on every host (as docs/getting-started.md's test).
  const source = await startTestCluster(path.join(dir, 'source'), { major: 15 });
  const world = new DisasterWorld(
    dir,
    source,
    await createFilledDatabase(source, 'shop', SHOP_SCHEMA),
    await ledgerSource(source),
  );
  await mkdir(world.bucket.path, { recursive: true });
  await mkdir(world.nas.path, { recursive: true });
  world.newHost = await newNpmStartHost(path.join(dir, 'new-host'), source);
  return world;
}

/** PITR on for a registered database, its archiver started, and its first segment in storage. */
async function enableArchiving(host: Platform, source: PitrSource): Promise<void> {
  await host.runtime.catalog.wal.updateSettings(source.database, { enabled: true, partialIntervalMs: 500 });
  await host.client.workflow.start(walArchiverWorkflow.type, {
    taskQueue: host.config.taskQueue,
    workflowId: walArchiverId(source.database),
    args: [{ database: source.database }],
  });
  await waitFor(
    'the first archived WAL',
    async () => ((await host.runtime.catalog.wal.segmentsOf(source.database)).length > 0 ? true : undefined),
    60_000,
    300,
  );
}

/** The old host's life: backups of both databases, a moment T between two rows, a catalog backup. */
async function liveOldHost(world: DisasterWorld, host: Platform): Promise<Date> {
  await host.ops.saveStorage('bucket', world.bucket);
  await host.ops.saveStorage('nas', world.nas);
  for (const [name, target, storages] of [
    ['shop', world.shop, ['bucket', 'nas']],
    ['ledger', world.ledger.target, ['bucket']],
  ] as const)
    await host.ops.addDatabase({ name, url: targetUrl(target), storages: [...storages], verifyAfterBackup: false });
  const backup = await (await host.ops.startBackup('shop')).result();
  assert.equal(backup.status, 'complete', 'the old host backs shop up');
  world.shopBackupId = backup.backupId;
  await enableArchiving(host, world.ledger);
  await takeBaseBackup(host, 'ledger', 'first');
  await world.ledger.query(`insert into events (at, note) values (clock_timestamp(), 'before')`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const moment = new Date();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await world.ledger.query(`insert into events (at, note) values (clock_timestamp(), 'after')`);
  await waitUntilArchived(host, world.ledger);
  const taken = await new CatalogBackupService(host.services.ctx).backupNow(systemActor, { wait: true });
  assert.deepEqual(
    taken.outcome?.copies.map((c) => [c.storage, c.status]),
    [
      ['bucket', 'complete'],
      ['nas', 'complete'],
    ],
    'the catalog backup reaches both storages that hold backups',
  );
  world.archivedAtCatalogBackup = (await host.runtime.catalog.wal.latestDurable('ledger'))!.lsn;
  // The host lives on a little after its catalog backup: one more row, archived (a longer partial
  // segment in storage than the catalog backup's row of it), as a host lost at any moment would.
  await world.ledger.query(`insert into events (at, note) values (clock_timestamp(), 'after the catalog backup')`);
  await waitUntilArchived(host, world.ledger);
  return moment;
}

/** A host's platform under the key `keyHex`, its worker started. */
export async function startHost(keyHex: string): Promise<Platform> {
  const host = await startPlatform({ secretKeyHex: keyHex });
  try {
    await host.startWorker();
    return host;
  } catch (error) {
    await host.stop();
    throw error;
  }
}

/**
 * Runs the old host (started under the key `keyHex`) in the world once both are up, then destroys
 * it: archiver and worker stopped, its catalog database dropped. Returns the moment the PITR restore
 * goes back to: after the row "before", before the row "after".
 */
export async function runAndLoseOldHost(
  worldStarted: Promise<DisasterWorld>,
  hostStarted: Promise<Platform>,
  keyHex: string,
): Promise<Date> {
  const host = await hostStarted;
  try {
    const world = await worldStarted;
    const moment = await liveOldHost(world, host);
    assert.equal((await readFile(host.config.secretKeyFile, 'utf8')).trim(), keyHex);
    await stopArchiver(host, 'ledger');
    world.archivedWhenLost = (await host.runtime.catalog.wal.latestDurable('ledger'))!.lsn;
    await host.stopWorker();
    await host.runtime.close();
    const admin = await connect('old host', host.cluster.target('postgres'));
    try {
      await admin.query(`drop database ${quoteIdent('catalog')} with (force)`);
    } finally {
      await admin.end();
    }
    // Nothing of the old host acts any more (no worker, no catalog): its servers stop while the new
    // host recovers, and the world waits for them before it goes.
    world.oldHostGone = host.stop().catch(() => undefined);
    return moment;
  } catch (error) {
    await host.stop();
    throw error;
  }
}
