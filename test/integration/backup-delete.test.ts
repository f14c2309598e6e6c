/**
 * Deleting one backup by hand (`hindsight backups delete`, DELETE /api/v1/backups/:id): a dry run
 * says who holds it and removes nothing; the deletion removes its objects from storage and marks
 * it deleted with the reason, audited; a second deletion is refused naming its state; the other
 * backup of the database is untouched and restores identical, table by table.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { systemActor } from '../../services/authz.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import type { Platform } from '../support/platform.ts';
import { assertSameTables, itemsTable, startSeededPlatform } from '../support/seeded-platform.ts';

describe('a backup deleted by hand', () => {
  let platform: Platform;
  let source: PgTarget;
  const ids: string[] = [];
  const files = async () => (await readdir(path.join(platform.backupsDir, 'shop'))).sort();
  const objectsOf = (id: string) => [`${id}.dump.hsb`, `${id}.json`, `${id}.roles.hsb`];
  const hindsight = (args: string[]) => hindsightResult(platform.configEnv, args);

  before(async () => {
    ({ platform, source } = await startSeededPlatform('shop', itemsTable(500)));
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), verifyAfterBackup: false });
    for (let i = 0; i < 2; i += 1) ids.push((await (await platform.ops.startBackup('shop')).result()).backupId);
  });
  after(async () => platform?.stop());

  it('a dry run names the storages that hold it and removes nothing', async () => {
    const before = await files();
    const { code, stdout } = await hindsight(['backups', 'delete', ids[0]!, '--dry-run', '--json']);
    assert.equal(code, 0, stdout);
    assert.deepEqual(JSON.parse(stdout), {
      backupId: ids[0],
      database: 'shop',
      storages: ['local'],
      deleted: false,
      dryRun: true,
    });
    assert.deepEqual(await files(), before);
    assert.equal((await platform.runtime.catalog.getBackup(ids[0]!)).status, 'complete');
  });

  it('removes its objects from storage, marks it deleted with the reason and audits it', async () => {
    const { code, stdout } = await hindsight(['backups', 'delete', ids[0]!, '--reason', 'test data']);
    assert.equal(code, 0, stdout);
    assert.equal(stdout, `deleted backup ${ids[0]} of database "shop" from storage local\n`);
    assert.deepEqual(await files(), objectsOf(ids[1]!).sort());
    const { rows } = await platform.runtime.catalog.pool.query(
      'select status, deleted_reason from backups where id = $1',
      [ids[0]],
    );
    assert.deepEqual(rows[0], { status: 'deleted', deleted_reason: 'deleted by hand: test data' });
    const audit = await platform.runtime.catalog.access.listAudit({ action: 'backup.delete' });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.outcome, 'ok');
    assert.match(JSON.stringify(audit[0]), /test data/);
  });

  it('a second deletion is refused naming the state, exit 1', async () => {
    const { code, stderr } = await hindsight(['backups', 'delete', ids[0]!]);
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`backup ${ids[0]} is deleted: there is nothing left to delete`));
  });

  it('the other backup is untouched and restores identical', async () => {
    await assert.rejects(platform.services.backups.delete(systemActor, 'no-such-backup'), /does not exist/);
    const restore = await platform.ops.startRestore({ database: 'shop', backupId: ids[1]!, to: { database: 'again' } });
    await restore.result();
    await assertSameTables({ ...source, database: 'again' }, source, [['items', 'id']]);
  });
});
