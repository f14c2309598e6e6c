/**
 * One disaster, recovered twice from the same world. An old host backs up `shop` logically and
 * `ledger` with PITR, takes a catalog backup, and loses its catalog database and everything else.
 * (1) docs/disaster-recovery.md, followed to the letter: every runnable block of the guide runs on a
 * new host that has only the key file and the bucket, and restores from the catalog's own backup.
 * (2) The new host then loses its catalog too, and `hindsight catalog rebuild` recreates it from the
 * bucket alone; a second rebuild finds nothing new. After each recovery the logical restore must hold
 * every row of the source, table by table, and the point-in-time restore the row written before the
 * moment and not the one after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeRebuild } from '../../cli/handlers/catalog.ts';
import type { RebuildReport } from '../../lib/catalog/rebuild/report.ts';
import { targetUrl } from '../../lib/pg/connection.ts';
import { CatalogRebuildService } from '../../services/catalog/rebuild.ts';
import { CATALOG_BACKUP_SCHEDULE_ID } from '../../temporal/contracts/catalog-backup.ts';
import {
  loseCatalog,
  runAndLoseOldHost,
  startDisasterWorld,
  startHost,
  type DisasterWorld,
} from '../support/disaster-world.ts';
import { itRunsEveryBlock, type Check } from '../support/guide-checks.ts';
import { parseGuide } from '../support/guide-markdown.ts';
import { GuideShell } from '../support/guide-runner.ts';
import { hindsightCli } from '../support/hindsight-cli.ts';
import { restore, rfc3339Plus2, stopArchiver, stopRestoredServer } from '../support/pitr-fixture.ts';
import { createDatabase, type Platform } from '../support/platform.ts';

const guide = parseGuide(await readFile('docs/disaster-recovery.md', 'utf8'));

function drillChecks(world: () => DisasterWorld): Check[] {
  return [
    {
      what: 'the restored catalog holds both databases, and Temporal its schedules again',
      at: /hindsight catalog restore --storage-config @"\$BUCKET_CONFIG" --key/,
      after: async () => {
        const host = world().newHost!;
        const names = (await host.runtime.catalog.listDatabases()).map((d) => d.name).sort();
        assert.deepEqual(names, ['ledger', 'shop']);
        const schedule = await host.client.schedule.getHandle(CATALOG_BACKUP_SCHEDULE_ID).describe();
        assert.ok(schedule.spec.calendars !== undefined || schedule.spec.intervals !== undefined);
      },
    },
    {
      what: 'the logical restore holds every row of the source, table by table',
      at: /hindsight restore shop --backup/,
      after: () => world().assertShopCopy('shop_restored'),
    },
    {
      what: 'the point-in-time restore holds the row before the moment and not the one after',
      at: /hindsight restore ledger --time/,
      after: async (result) => {
        const port = Number(/running on 127\.0\.0\.1:(\d+) /.exec(result.output)?.[1]);
        assert.ok(port > 0, `the restore names the port of the restored server:\n${result.output}`);
        await world().assertLedgerAtMoment(port);
      },
    },
  ];
}

type Rebuild = (storageConfig: object) => Promise<RebuildReport>;

/** The rows a rebuilt database and archive hold: no credentials, PITR off, the archive known. */
async function assertRebuiltDatabases(world: DisasterWorld, host: Platform): Promise<void> {
  const [database] = (await host.runtime.catalog.listDatabases()).filter((d) => d.name === 'shop');
  assert.deepEqual(
    [database?.host, database?.port, database?.dbname, database?.username],
    [world.shop.host, world.shop.port, 'shop', ''],
  );
  const pitrConfig = await host.runtime.catalog.wal.config('ledger');
  assert.equal(pitrConfig.enabled, false, 'PITR stays off until the operator switches it on');
  assert.ok(pitrConfig.systemIdentifier, 'the archive is known');
}

/**
 * The new host loses its catalog in turn and `hindsight catalog rebuild` brings it back from the
 * bucket: every database, backup, base backup and WAL segment row; then a second run adds nothing.
 */
async function loseAndRebuild(world: DisasterWorld, host: Platform, rebuild: Rebuild): Promise<void> {
  // The archiver writes its last index batch as it stops; then the catalog is gone.
  await stopArchiver(host, 'ledger');
  const before = await host.runtime.catalog.wal.segmentsOf('ledger');
  await loseCatalog(host);

  const cli = hindsightCli(host.configEnv);
  const args = ['catalog', 'rebuild', '--storage-config', JSON.stringify(world.bucket), '--storage-name', 'bucket'];
  const report = JSON.parse((await cli([...args, '--json'])).stdout) as RebuildReport;
  assert.equal(report.storageAdded, true);
  assert.deepEqual(report.databases.created, ['ledger', 'shop']);
  assert.deepEqual([report.backups.added, report.copies.added], [1, 1]);
  assert.equal(report.baseBackups.added, 1);
  assert.equal(report.walSegments.added, before.length, 'every segment row the catalog held is back');
  assert.ok(report.walSegments.fromIndex > 0, `${report.walSegments.fromIndex} segments came from the index`);
  assert.deepEqual(report.unreadable, []);
  const segments = await host.runtime.catalog.wal.segmentsOf('ledger');
  assert.deepEqual(
    segments.map((s) => [s.name, s.complete, s.sha256, s.endLsn]),
    before.map((s) => [s.name, s.complete, s.sha256, s.endLsn]),
  );
  await assertRebuiltDatabases(world, host);

  const again = describeRebuild(await rebuild(world.bucket));
  assert.match(again, /nothing new: the catalog already holds everything read/);
  assert.match(again, /WAL segments: \d+ found, 0 new/);
  const audit = await host.runtime.catalog.pool.query<{ n: number }>(
    "select count(*)::int as n from audit_log where action = 'catalog.rebuild' and outcome = 'ok'",
  );
  assert.equal(audit.rows[0]!.n, 2);
}

describe('a lost catalog, restored from its backup by docs/disaster-recovery.md, then rebuilt from storage', () => {
  let world: DisasterWorld;
  let shell: GuideShell;
  let settings: Record<string, string>;
  let moment: Date;
  const checks = drillChecks(() => world);
  const host = () => world.newHost!;
  const rebuiltDir = () => path.join(world.dir, 'ledger-rebuilt');
  const rebuild: Rebuild = (storageConfig) =>
    new CatalogRebuildService(host().services.ctx).rebuild(host().ops.actor, { storageConfig, storageName: 'bucket' });

  before(async () => {
    // The new host shares nothing with the old one but the key: an empty data directory with only the
    // key file put in place before its first start. Both hosts and the source server start side by
    // side, and the new host while the old one lives, to save time.
    const keyHex = randomBytes(32).toString('hex');
    const oldHost = startHost(keyHex);
    const newHost = startHost(keyHex);
    const worldStarted = startDisasterWorld();
    const [started, lost, hostStarted] = await Promise.allSettled([
      worldStarted,
      runAndLoseOldHost(worldStarted, oldHost, keyHex),
      newHost,
    ]);
    if (started.status === 'rejected') {
      if (hostStarted.status === 'fulfilled') await hostStarted.value.stop();
      throw started.reason;
    }
    world = started.value;
    if (hostStarted.status === 'fulfilled') world.newHost = hostStarted.value;
    if (lost.status === 'rejected') throw lost.reason;
    if (hostStarted.status === 'rejected') throw hostStarted.reason;
    moment = lost.value;
    settings = await world.settings(moment, keyHex);
    shell = new GuideShell(world.dir, await world.shellEnv(hostStarted.value, settings), { timeoutMs: 240_000 });
    await shell.start();
  });

  after(async () => {
    if (settings?.RESTORE_DIR) await stopRestoredServer(settings.RESTORE_DIR);
    if (world) await stopRestoredServer(rebuiltDir());
    await world?.stop();
  });

  it('asks the reader for exactly the values the test sets', () => {
    assert.deepEqual([...guide.settings].sort(), Object.keys(settings).sort());
  });

  itRunsEveryBlock(guide, () => shell, checks);

  it('loses the catalog again and rebuilds it from the storage; a second run adds nothing', () =>
    loseAndRebuild(world, host(), rebuild));

  it('restores the logical backup identical table by table after the rebuild, and refuses a new backup until credentials are given', async () => {
    const to = await createDatabase(world.source, 'shop_rebuilt');
    const restored = await host().ops.startRestore({
      database: 'shop',
      backupId: world.shopBackupId,
      to: { url: targetUrl(to) },
    });
    await restored.result();
    await world.assertShopCopy('shop_rebuilt');
    await assert.rejects((await host().ops.startBackup('shop')).result(), (error: Error) =>
      /hindsight db update shop --url/.test(`${error.message} ${String(error.cause)}`),
    );
  });

  it('restores the rebuilt PITR archive to T: the row before T is there, the one after is not', async () => {
    await assert.rejects(
      rebuild({ type: 'local', path: '/nonexistent' }),
      /storage "bucket" is already registered with other settings/,
    );
    // What the report tells the operator to do before anything connects as the database's role.
    const { services, ops } = host();
    await services.databases.update(ops.actor, 'ledger', { url: targetUrl(world.ledger.target), skipCheck: true });
    // Written in a +02:00 offset, so that the restore must read the offset.
    const target = { time: rfc3339Plus2(moment) };
    const outcome = await restore(host(), { database: 'ledger', target, to: { directory: rebuiltDir() } }, 'rebuilt');
    assert.ok(outcome.port, 'the restore names the port of the restored server');
    await world.assertLedgerAtMoment(outcome.port);
  });
});
