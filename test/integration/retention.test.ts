import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { retentionPlanQuery } from '../../temporal/contracts/retention.ts';
import type { Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';

const DAY = 86_400_000;

describe('retention: a policy prunes old backups from storage, never the ones it must keep', () => {
  let platform: Platform;
  /** Backup ids, oldest first, with the age each is given (days). */
  const backups: Array<{ id: string; ageDays: number }> = [];

  before(async () => {
    const items =
      'create table items (id int primary key, name text); insert into items select g, md5(g::text) from generate_series(1, 500) g';
    let source: PgTarget;
    ({ platform, source } = await startSeededPlatform('shop', items));
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), verifyAfterBackup: false });
    // Six backups, then aged by rewriting their times in the catalog: 40, 30, 20, 10, 2 days and 5 minutes.
    for (const ageDays of [40, 30, 20, 10, 2, 5 / 1440]) {
      const outcome = await (await platform.ops.startBackup('shop')).result();
      backups.push({ id: outcome.backupId, ageDays });
    }
    for (const b of backups) {
      const at = new Date(Date.now() - b.ageDays * DAY);
      await platform.runtime.catalog.pool.query('update backups set started_at = $2, finished_at = $2 where id = $1', [
        b.id,
        at,
      ]);
    }
  });

  after(async () => {
    await platform?.stop();
  });

  it('refuses a bad policy with the field named', async () => {
    await assert.rejects(
      platform.ops.setRetentionPolicy('shop', { kind: 'count', keepLast: 0 }),
      /invalid retention policy: keepLast: /,
    );
    await assert.rejects(platform.ops.setRetentionPolicy('shop', { kind: 'gfs' }), /invalid retention policy/);
  });

  it('plans a dry run that keeps the newest, the verified and the one in use, and says why', async () => {
    // The 30-day-old backup passed a verification, the 20-day-old one is being verified right now.
    const verified = backups[1]!.id;
    const v = await (await platform.ops.requestVerification('shop', { backupId: verified })).finished();
    assert.equal(v.status, 'successful', v.reason ?? '');
    await platform.runtime.catalog.verifications.request({
      id: 'v-held-by-test-000',
      database: 'shop',
      backupId: backups[2]!.id,
      trigger: 'manual',
    });

    const { plan } = await platform.ops.retentionPlan('shop', { kind: 'count', keepLast: 2 });
    const kept = new Map(plan.keep.map((k) => [k.id, k.reasons.join('; ')]));
    const deleted = new Map(plan.delete.map((d) => [d.id, d.reason]));
    assert.deepEqual([...deleted.keys()].sort(), [backups[0]!.id, backups[3]!.id].sort(), plan.summary);
    assert.match(kept.get(verified)!, /newest verified backup/);
    assert.match(kept.get(backups[2]!.id)!, /in use by a restore or verification/);
    assert.match(kept.get(backups[5]!.id)!, /one of the 2 newest|younger than one hour/);
    assert.match(kept.get(backups[4]!.id)!, /one of the 2 newest/);
    assert.equal(plan.keep.length + plan.delete.length, backups.length);
  });

  it('deletes exactly the planned backups from storage and the catalog when it runs, as the plan query shows', async () => {
    await platform.ops.setRetentionPolicy('shop', { kind: 'count', keepLast: 2 });
    const schedule = await platform.client.schedule.getHandle('retention/shop').describe();
    assert.equal((schedule.action as { workflowType: string }).workflowType, 'gfsRetention');

    const started = await platform.ops.startRetention('shop');
    const outcome = await started.result();
    const doomed = [backups[0]!.id, backups[3]!.id].sort();
    assert.deepEqual([...outcome.deleted].sort(), doomed);
    const plan = await platform.client.workflow.getHandle(started.workflowId).query(retentionPlanQuery);
    assert.deepEqual(plan?.delete.map((d) => d.id).sort(), doomed);

    const files = await readdir(path.join(platform.backupsDir, 'shop'));
    for (const b of backups) {
      const present = files.includes(`${b.id}.dump.hsb`) && files.includes(`${b.id}.json`);
      assert.equal(
        present,
        !doomed.includes(b.id),
        `backup ${b.id} ${doomed.includes(b.id) ? 'removed' : 'kept'} in storage`,
      );
    }
    for (const id of doomed) {
      const record = await platform.runtime.catalog.getBackup(id);
      assert.equal(record.status, 'deleted');
    }
    // A second run finds nothing more to delete: the plan is stable.
    const again = await (await platform.ops.startRetention('shop')).result();
    assert.deepEqual(again.deleted, []);
  });
});
