/**
 * One disaster, recovered twice from the same world, both times by docs/disaster-recovery.md as
 * written. An old host backs up `shop` logically (to the bucket and a second storage) and `ledger`
 * with PITR, takes a catalog backup, and loses its catalog database and everything else.
 * (1) The guide's main path: on a new host that has only the key file and the storages, the key put
 * in place, `npm start`, the catalog restored from its own backup, `npm start` restarted, a logical
 * and a point-in-time restore.
 * (2) That host loses its catalog database in turn, and the guide's rebuild path runs beside the same
 * `npm start`: `catalog rebuild` from the bucket, then from the second storage (which adds only its
 * copies), then the bucket again (nothing new), the passwords given back, and both restores.
 * After each recovery the logical restore must hold every row of the source, table by table, and the
 * point-in-time restore the row written before the moment and not the one after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { WalSegmentRecord as WalSegmentRow } from '../../lib/catalog/wal-objects.ts';
import type { Runtime } from '../../services/runtime.ts';
import { CATALOG_BACKUP_SCHEDULE_ID } from '../../temporal/contracts/catalog-backup.ts';
import { walArchiverId } from '../../temporal/contracts/pitr.ts';
import { runAndLoseOldHost, startDisasterWorld, startHost, type DisasterWorld } from '../support/disaster-world.ts';
import { itRunsEveryBlock, type Check } from '../support/guide-checks.ts';
import { blocksOfSection, parseGuide } from '../support/guide-markdown.ts';
import { GuideShell } from '../support/guide-runner.ts';
import { stopRestoredServer } from '../support/pitr-fixture.ts';
import { waitFor } from '../support/wait.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';

const markdown = await readFile('docs/disaster-recovery.md', 'utf8');
const guide = parseGuide(markdown);
const startBlocks = blocksOfSection(markdown, guide, '2. Put the key file in place');
const rebuildBlocks = blocksOfSection(markdown, guide, 'No catalog backup in the storage?');
const mainPath = { blocks: guide.blocks.filter((b) => !rebuildBlocks.includes(b)) };
assert.ok(
  startBlocks.some((b) => b.keepsRunning),
  'step 2 starts npm start',
);

/** The checks both paths make after each restore: the database restored into is the one the restore names. */
function restoreChecks(world: () => DisasterWorld): Check[] {
  return [
    {
      what: 'the logical restore holds every row of the source, table by table',
      at: /hindsight restore shop .*--to-database/,
      after: async (result) => {
        const into = /restored backup \S+ into postgres:\/\/\S+\/(\w+): /.exec(result.output)?.[1];
        assert.ok(into, `the restore names the database it restored into:\n${result.output}`);
        await world().assertShopCopy(into);
      },
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

const COMPLETE_SEGMENT = /^pitr\/\d+\/wal\/[0-9A-F]{24}\.zst\.hsb$/;

/**
 * The old host archived on after its catalog backup: the restore must bring ledger's rows up to
 * what storage holds (the `wal` line says so), every complete segment in storage with its row.
 */
function walResyncCheck(world: () => DisasterWorld): Check {
  return {
    what: "the restore brings ledger's WAL rows up to what the old host archived after its catalog backup",
    at: /hindsight catalog restore --storage-config @"\$BUCKET_CONFIG" --key/,
    after: async (result) => {
      const { archivedAtCatalogBackup, archivedWhenLost } = world();
      assert.ok(archivedWhenLost > archivedAtCatalogBackup, 'the old host archived WAL after its catalog backup');
      const line = /^ {2}wal {8}ledger: \+(\d+) segments(?:, (\d+) partial updated)? from storage$/m.exec(
        result.output,
      );
      assert.ok(line, `the restore says what storage added to ledger's rows:\n${result.output}`);
      assert.ok(Number(line[1]) + Number(line[2] ?? 0) > 0, 'storage held WAL that the catalog backup did not know');
      const stored = await createLocalStorage({ name: 'bucket', root: world().bucket.path }).list('pitr');
      await world().newHost.catalog(async (c) => {
        assert.ok(
          (await c.wal.latestDurable('ledger'))!.lsn >= archivedWhenLost,
          'the rows reach where the old host stopped',
        );
        const complete = new Set((await c.wal.segmentsOf('ledger')).filter((s) => s.complete).map((s) => s.objectKey));
        const unknown = stored.filter((o) => COMPLETE_SEGMENT.test(o.key) && !complete.has(o.key)).map((o) => o.key);
        assert.deepEqual(unknown, [], 'every complete segment in storage has its row');
      });
    },
  };
}

/**
 * The receiver's storage checks once it resumes (the first right away) find storage as the rows say:
 * a row left at the catalog backup's partial would raise `wal_chain_broken` for nothing. Made around
 * the point-in-time restore, which gives the archiver time to resume after the restart.
 */
function noFalseAlarmCheck(world: () => DisasterWorld): Check {
  let since = new Date();
  return {
    what: 'the resumed archiver uploads again and raises no wal_chain_broken',
    at: /hindsight restore ledger --time/,
    before: async () => {
      since = new Date();
      await world().ledger.query(`insert into events (at, note) values (clock_timestamp(), 'after the restore')`);
    },
    after: () =>
      world().newHost.catalog(async (c) => {
        await waitFor(
          'WAL of ledger archived by the new host',
          async () => ((await c.wal.segmentsOf('ledger')).some((s) => s.receivedAt >= since) ? true : undefined),
          60_000,
          300,
        );
        const alarms = (await c.health.notifications('ledger')).filter((n) => n.event === 'wal_chain_broken');
        assert.deepEqual(alarms, [], 'storage holds what the restored catalog says');
      }),
  };
}

function mainChecks(world: () => DisasterWorld): Check[] {
  return [
    ...restoreChecks(world),
    walResyncCheck(world),
    noFalseAlarmCheck(world),
    {
      what: 'npm start comes up under the key put in place, not a key of its own',
      at: /^npm start$/m,
      after: async (result) => {
        assert.doesNotMatch(result.output, /created .*secret\.key/);
        const inUse = (await readFile(`${world().newHost.dataDir}/secret.key`, 'utf8')).trim();
        assert.equal(inUse, (await readFile(world().settingsUsed.KEY_FILE!, 'utf8')).trim());
      },
    },
    {
      what: 'the restored catalog holds both databases, and Temporal its schedules again',
      at: /hindsight catalog restore --storage-config @"\$BUCKET_CONFIG" --key/,
      after: () =>
        world().newHost.open(async ({ runtime, client }) => {
          assert.deepEqual((await runtime.catalog.listDatabases()).map((d) => d.name).sort(), ['ledger', 'shop']);
          const schedule = await client.schedule.getHandle(CATALOG_BACKUP_SCHEDULE_ID).describe();
          assert.ok(schedule.spec.calendars !== undefined || schedule.spec.intervals !== undefined);
        }),
    },
    {
      what: 'after the restart the new host archives ledger again from the restored catalog',
      at: /^npm start$/m,
      after: () =>
        world().newHost.open(async ({ runtime, client }) => {
          if ((await runtime.catalog.listDatabases()).length === 0) return; // the first start: nothing restored yet
          const state = await client.workflow.getHandle(walArchiverId('ledger')).describe();
          assert.equal(state.status.name, 'RUNNING');
        }),
    },
  ];
}

/** What the rebuild path must leave in the catalog, block by block (`segments`: the lost host's WAL rows). */
function rebuildChecks(world: () => DisasterWorld, segments: () => WalSegmentRow[]): Check[] {
  const catalog = <T>(look: (c: Runtime['catalog']) => Promise<T>) => world().newHost.catalog(look);
  const copies = () =>
    catalog(async (c) => (await c.listBackups('shop')).map((b) => b.copies.map((k) => [k.storageName, k.status])));
  return [
    ...restoreChecks(world),
    {
      what: 'the rebuild from the bucket brings back every WAL segment row and the databases without credentials',
      at: /catalog rebuild --storage-config @"\$BUCKET_CONFIG"/,
      after: () =>
        catalog(async (c) => {
          const rebuilt = await c.wal.segmentsOf('ledger');
          const row = (s: WalSegmentRow) => [s.name, s.complete, s.sha256, s.endLsn];
          assert.deepEqual(rebuilt.map(row), segments().map(row), 'every segment row the catalog held is back');
          const shop = (await c.listDatabases()).find((d) => d.name === 'shop');
          assert.deepEqual([shop?.host, shop?.port, shop?.username], [world().shop.host, world().shop.port, '']);
          assert.equal((await c.wal.config('ledger')).enabled, false, 'PITR stays off until switched on');
        }),
    },
    {
      what: 'the second storage adds its copy of the backup the bucket already gave, and no second backup row',
      at: /catalog rebuild --storage-config @"\$SECOND_STORAGE_CONFIG"/,
      after: async () =>
        assert.deepEqual(await copies(), [
          [
            ['bucket', 'complete'],
            ['nas', 'complete'],
          ],
        ]),
    },
    {
      what: 'every rebuild is audited; shop backs up to both storages again; no backup row changed',
      at: /hindsight db storages shop bucket,nas/,
      after: async () => {
        const shop = await catalog((c) => c.findDatabase('shop'));
        assert.deepEqual(shop?.storageNames.sort(), ['bucket', 'nas']);
        const audited = await catalog((c) =>
          c.pool.query<{ n: number }>(
            "select count(*)::int as n from audit_log where action = 'catalog.rebuild' and outcome = 'ok'",
          ),
        );
        assert.equal(audited.rows[0]!.n, 3);
        assert.equal((await copies()).length, 1);
      },
    },
  ];
}

describe('a lost host, recovered by docs/disaster-recovery.md: the catalog restored, then rebuilt from storage', () => {
  let world: DisasterWorld;
  let shell: GuideShell;
  let lostSegments: WalSegmentRow[] = [];

  before(async () => {
    // The new host shares nothing with the old one but the key, which the guide puts in place before
    // its first `npm start`. The old host and the source server start side by side, to save time.
    const keyHex = randomBytes(32).toString('hex');
    const oldHost = startHost(keyHex);
    const worldStarted = startDisasterWorld();
    const [started, lost] = await Promise.allSettled([worldStarted, runAndLoseOldHost(worldStarted, oldHost, keyHex)]);
    if (started.status === 'rejected') throw started.reason;
    world = started.value;
    if (lost.status === 'rejected') throw lost.reason;
    world.settingsUsed = await world.settings(lost.value, keyHex);
    // The guide's commands run in this checkout, as the reader's do in theirs after step 1.
    shell = new GuideShell(world.dir, await world.shellEnv(world.settingsUsed), {
      timeoutMs: 240_000,
      cwd: process.cwd(),
    });
    await shell.start();
  });

  after(async () => {
    await shell?.interrupt();
    if (world?.settingsUsed.RESTORE_DIR) await stopRestoredServer(world.settingsUsed.RESTORE_DIR);
    await world?.stop();
  });

  it('asks the reader for exactly the values the test sets', () => {
    assert.deepEqual([...guide.settings].sort(), Object.keys(world.settingsUsed).sort());
  });

  itRunsEveryBlock(
    mainPath,
    () => shell,
    mainChecks(() => world),
    'the main path',
  );

  it("loses the new host's catalog: its database dropped and made again, empty, under the running npm start", async () => {
    // The archiver writes its last index batch as it stops: the rows the rebuild must bring back.
    await world.newHost.stopArchiver('ledger');
    lostSegments = await world.newHost.catalog((c) => c.wal.segmentsOf('ledger'));
    assert.ok(lostSegments.length > 0, 'the host had archived WAL of ledger');
    // The processes of npm start stay up (their pools reconnect to the new database), as they would
    // when only the catalog database is lost; a fresh npm start would cost the test half a minute
    // more and exercise step 2 once again. The rebuild path restores into RESTORE_DIR too.
    await Promise.all([stopRestoredServer(world.settingsUsed.RESTORE_DIR!), world.newHost.emptyCatalog()]);
    await rm(world.settingsUsed.RESTORE_DIR!, { recursive: true, force: true });
  });

  itRunsEveryBlock(
    { blocks: rebuildBlocks },
    () => shell,
    rebuildChecks(
      () => world,
      () => lostSegments,
    ),
    'the rebuild path',
  );
});
