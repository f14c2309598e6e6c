import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { assertInAgreement, assertRestoresIdentical, dumpIsCopying, LEDGER } from '../support/fault-checks.ts';
import { activityAttempts, assertRanOnce, innermostMessage } from '../support/failures.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { createFilledDatabase, startPlatform, startTestCluster, type Platform } from '../support/platform.ts';

/**
 * The source fails under a running backup: its server restarted mid-dump, the network to it cut
 * mid-dump (through a proxy), its backup role's password changed between two runs. The source
 * runs on a PostgreSQL server of its own, so that restarting it leaves the catalog alone. Each
 * transient case ends with one complete backup that restores identical and with `doctor --deep`
 * finding nothing; the password case fails at once, not retried, naming the database.
 */

describe('source faults: restarted and cut off mid-dump, and a changed password', () => {
  let platform: Platform;
  let cluster: LocalCluster;
  let source: PgTarget;
  let proxy: FaultProxy;
  let restores = 0;

  before(async () => {
    platform = await startPlatform();
    cluster = await startTestCluster(platform.dir, { name: 'source' });
    source = await createFilledDatabase(cluster, 'ledger', LEDGER);
    proxy = await startFaultProxy({ host: '127.0.0.1', port: cluster.port });
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'ledger', url: targetUrl(source), verifyAfterBackup: false });
    const viaProxy = { ...source, host: '127.0.0.1', port: proxy.port };
    await platform.ops.addDatabase({ name: 'remote', url: targetUrl(viaProxy), verifyAfterBackup: false });
  });

  after(async () => {
    await platform?.stop();
    await proxy?.stop();
    await cluster?.stop('immediate');
  });

  async function assertConsistent(database: string, backupId: string): Promise<void> {
    const backups = await platform.ops.listBackups(database);
    assert.equal(backups.filter((b) => b.status === 'complete').length, 1, 'exactly one complete backup');
    await assertRestoresIdentical(platform, { database, backupId, source }, `restored_${(restores += 1)}`);
    await assertInAgreement(platform);
  }

  it('the source restarted mid-dump: the dump is retried once it is back, and one backup completes', async () => {
    const backup = await platform.ops.startBackup('ledger');
    await dumpIsCopying(cluster);
    await cluster.stop('fast');
    await cluster.start();
    const outcome = await backup.result();
    assert.equal(outcome.status, 'complete');
    assert.ok(Math.max(...(await activityAttempts(platform.client, backup.workflowId))) > 1, 'the dump was retried');
    await assertConsistent('ledger', outcome.backupId);
  });

  it('the network to the source cut mid-dump: the dump is retried, and one backup completes', async () => {
    const backup = await platform.ops.startBackup('remote');
    await dumpIsCopying(cluster);
    assert.ok(proxy.cut() > 0, 'open connections were cut');
    const outcome = await backup.result();
    assert.equal(outcome.status, 'complete');
    assert.ok(Math.max(...(await activityAttempts(platform.client, backup.workflowId))) > 1, 'the dump was retried');
    await assertConsistent('remote', outcome.backupId);
  });

  it("the backup role's password changed between runs: a failure at once, naming the database, not retried", async () => {
    const admin = await connect('fault test', cluster.target('postgres'));
    try {
      await admin.query(`alter role ${source.user} password 'changed-since'`);
      const backup = await platform.ops.startBackup('ledger');
      await assert.rejects(backup.result(), (error: unknown) => {
        assert.ok(error instanceof WorkflowFailedError);
        assert.match(innermostMessage(error), /database "ledger": password authentication failed/);
        return true;
      });
      await assertRanOnce(platform.client, backup.workflowId, 'a changed password must not be retried');
    } finally {
      await admin.query(`alter role ${source.user} password '${source.password}'`);
      await admin.end();
    }
  });
});
