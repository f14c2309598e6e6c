/**
 * docs/disaster-recovery.md, followed to the letter after a real disaster: an old host backs up
 * `shop` logically and `ledger` with PITR, takes a catalog backup, and loses its catalog database
 * and everything else; then every runnable block of the guide runs on a new host that has only the
 * key file and the bucket. The logical restore must hold every row of the source, table by table,
 * and the point-in-time restore the row written before the moment and not the one after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { connect } from '../../lib/pg/connection.ts';
import { CATALOG_BACKUP_SCHEDULE_ID } from '../../temporal/contracts/catalog-backup.ts';
import { runAndLoseOldHost, startDisasterWorld, type DisasterWorld } from '../support/disaster-world.ts';
import { itRunsEveryBlock, type Check } from '../support/guide-checks.ts';
import { parseGuide } from '../support/guide-markdown.ts';
import { tableHashes } from '../support/guide-platform.ts';
import { GuideShell } from '../support/guide-runner.ts';
import { stopRestoredServer } from '../support/pitr-fixture.ts';
import { startPlatform } from '../support/platform.ts';

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
      after: async () => {
        const restored = await tableHashes({ ...world().shop, database: 'shop_restored' });
        assert.ok(Object.keys(restored).length >= 2, 'the source has tables to compare');
        assert.deepEqual(restored, await tableHashes(world().shop));
      },
    },
    {
      what: 'the point-in-time restore holds the row before the moment and not the one after',
      at: /hindsight restore ledger --time/,
      after: async (result) => {
        const port = Number(/running on 127\.0\.0\.1:(\d+) /.exec(result.output)?.[1]);
        assert.ok(port > 0, `the restore names the port of the restored server:\n${result.output}`);
        const client = await connect('restored', {
          ...world().ledger.target,
          host: '127.0.0.1',
          port,
          sslmode: 'disable',
        });
        try {
          const { rows } = await client.query<{ note: string }>('select note from events order by id');
          assert.deepEqual(
            rows.map((r) => r.note),
            ['before'],
          );
        } finally {
          await client.end();
        }
      },
    },
  ];
}

describe('docs/disaster-recovery.md, after losing the catalog', () => {
  let world: DisasterWorld;
  let shell: GuideShell;
  let settings: Record<string, string>;
  const checks = drillChecks(() => world);

  before(async () => {
    // The new host shares nothing with the old one but the key: an empty data directory with only the
    // key file put in place before its first start. It starts while the old host lives, to save time.
    const keyHex = randomBytes(32).toString('hex');
    const newHost = startPlatform({ secretKeyHex: keyHex }).then(async (host) => {
      await host.startWorker();
      return host;
    });
    world = await startDisasterWorld();
    const [moment, host] = await Promise.allSettled([runAndLoseOldHost(world, keyHex), newHost]);
    if (host.status === 'fulfilled') world.newHost = host.value;
    if (moment.status === 'rejected') throw moment.reason;
    if (host.status === 'rejected') throw host.reason;
    settings = await world.settings(moment.value, keyHex);
    shell = new GuideShell(world.dir, await world.shellEnv(host.value, settings), { timeoutMs: 90_000 });
    await shell.start();
  });

  after(async () => {
    if (settings?.RESTORE_DIR) await stopRestoredServer(settings.RESTORE_DIR);
    await world?.stop();
  });

  it('asks the reader for exactly the values the test sets', () => {
    assert.deepEqual([...guide.settings].sort(), Object.keys(settings).sort());
  });

  itRunsEveryBlock(guide, () => shell, checks);
});
