/**
 * The catalog is lost; storage and the key are not. One database backed up logically and one with
 * PITR (a base backup, then rows, all WAL archived), then the whole catalog database is dropped and
 * the data directory emptied but for the key file. `hindsight catalog rebuild` against the storage
 * brings back what restores need: a logical restore identical table by table, a restore to a time
 * T between two rows, and a second run that finds nothing new.
 */
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { RebuildReport } from '../../lib/catalog/rebuild/report.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { describeRebuild } from '../../cli/handlers/catalog.ts';
import { CatalogRebuildService } from '../../services/catalog/rebuild.ts';
import { hindsightCli } from '../support/hindsight-cli.ts';
import { stopArchiver } from '../support/pitr-fixture.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';
import { createDatabase, createFilledDatabase, type Platform } from '../support/platform.ts';
import { assertSameTables } from '../support/seeded-platform.ts';

const booksSchema = `
  create table authors (id int primary key, name text not null);
  create table titles (id bigserial primary key, author int references authors, title text, price numeric(8,2));
  insert into authors select g, 'author ' || g from generate_series(1, 200) g;
  insert into titles (author, title, price) select 1 + g % 200, md5(g::text), (g % 997) / 10.0 from generate_series(1, 20000) g;`;
const tables: Array<[string, string]> = [
  ['authors', 'id'],
  ['titles', 'id'],
];

async function onServer(target: PgTarget, sql: string): Promise<void> {
  const client = await connect('test server', { ...target, database: 'postgres' });
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The whole catalog database dropped (an empty one in its place), and the data directory emptied but for the key. */
async function loseCatalog(platform: Platform): Promise<void> {
  const catalogTarget = platform.cluster.target('catalog');
  await onServer(catalogTarget, 'drop database catalog with (force)');
  await onServer(catalogTarget, 'create database catalog');
  for (const entry of await readdir(platform.config.dataDir))
    if (path.join(platform.config.dataDir, entry) !== platform.config.secretKeyFile)
      await rm(path.join(platform.config.dataDir, entry), { recursive: true, force: true });
}

/** The rows a rebuilt database and archive hold: no credentials, PITR off, the archive known. */
async function assertRebuiltDatabases(platform: Platform, books: PgTarget): Promise<void> {
  const [database] = (await platform.runtime.catalog.listDatabases()).filter((d) => d.name === 'books');
  assert.deepEqual(
    [database?.host, database?.port, database?.dbname, database?.username],
    [books.host, books.port, 'books', ''],
  );
  const pitrConfig = await platform.runtime.catalog.wal.config('shop');
  assert.equal(pitrConfig.enabled, false, 'PITR stays off until the operator switches it on');
  assert.ok(pitrConfig.systemIdentifier, 'the archive is known');
}

describe('catalog rebuild: storage plus the key is enough', () => {
  let books: PgTarget;
  let booksBackup: string;
  const rebuild = (storageConfig: string) =>
    new CatalogRebuildService(pitr.platform.services.ctx).rebuild(pitr.platform.ops.actor, {
      storageConfig: JSON.parse(storageConfig),
      storageName: 'local',
    });
  const pitr = usePitrScenario('shop', {
    writes: { forMs: 2500, everyMs: 120 },
    setUp: async ({ platform }) => {
      books = await createFilledDatabase(platform.cluster, 'books', booksSchema);
      await platform.ops.addDatabase({ name: 'books', url: targetUrl(books), verifyAfterBackup: false });
      booksBackup = (await (await platform.ops.startBackup('books')).result()).backupId;
    },
  });

  it('recreates the catalog from the storage on an empty one, and a second run adds nothing', async () => {
    const { platform } = pitr;
    // The archiver writes its last index batch as it stops; then the host is gone. The worker keeps
    // nothing of its own (it only polls Temporal), so it stays up and meets the new catalog as a new
    // host's worker would.
    await stopArchiver(platform, 'shop');
    const before = await platform.runtime.catalog.wal.segmentsOf('shop');
    await loseCatalog(platform);

    const storageConfig = JSON.stringify({ type: 'local', path: platform.backupsDir });
    const cli = hindsightCli(platform.configEnv);
    const args = ['catalog', 'rebuild', '--storage-config', storageConfig, '--storage-name', 'local'];
    const report = JSON.parse((await cli([...args, '--json'])).stdout) as RebuildReport;
    assert.equal(report.storageAdded, true);
    assert.deepEqual(report.databases.created, ['books', 'shop']);
    assert.deepEqual([report.backups.added, report.copies.added], [1, 1]);
    assert.equal(report.baseBackups.added, 1);
    assert.equal(report.walSegments.added, before.length, 'every segment row the catalog held is back');
    assert.ok(report.walSegments.fromIndex > 0, `${report.walSegments.fromIndex} segments came from the index`);
    assert.deepEqual(report.unreadable, []);
    const segments = await platform.runtime.catalog.wal.segmentsOf('shop');
    assert.deepEqual(
      segments.map((s) => [s.name, s.complete, s.sha256, s.endLsn]),
      before.map((s) => [s.name, s.complete, s.sha256, s.endLsn]),
    );
    await assertRebuiltDatabases(platform, books);

    const again = describeRebuild(await rebuild(storageConfig));
    assert.match(again, /nothing new: the catalog already holds everything read/);
    assert.match(again, /WAL segments: \d+ found, 0 new/);
    const audit = await platform.runtime.catalog.pool.query<{ n: number }>(
      "select count(*)::int as n from audit_log where action = 'catalog.rebuild' and outcome = 'ok'",
    );
    assert.equal(audit.rows[0]!.n, 2);
  });

  it('restores the logical backup identical table by table, and refuses a new backup until credentials are given', async () => {
    const { platform } = pitr;
    const to = await createDatabase(platform.cluster, 'books_restored');
    const restore = await platform.ops.startRestore({
      database: 'books',
      backupId: booksBackup,
      to: { url: targetUrl(to) },
    });
    await restore.result();
    await assertSameTables(to, books, tables);
    await assert.rejects((await platform.ops.startBackup('books')).result(), (error: Error) =>
      /hindsight db update books --url/.test(`${error.message} ${String(error.cause)}`),
    );
  });

  it('restores the PITR archive to a time T: the row before T is there, the one after is not', async () => {
    await assert.rejects(
      rebuild(JSON.stringify({ type: 'local', path: '/nonexistent' })),
      /storage "local" is already registered with other settings/,
    );
    // What the report tells the operator to do before anything connects as the database's role.
    const { services, ops } = pitr.platform;
    await services.databases.update(ops.actor, 'shop', { url: targetUrl(pitr.source.target), skipCheck: true });
    await pitr.restoreBetweenRows('restored-after-rebuild', 'after-rebuild', Math.floor(pitr.rows.length / 2));
  });
});
