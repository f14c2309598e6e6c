import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { assertInAgreement, assertRestoresIdentical, dumpIsCopying, LEDGER } from '../support/fault-checks.ts';
import { createFilledDatabase, startPlatform, startTestCluster, type Platform } from '../support/platform.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The catalog's PostgreSQL restarted under a running backup and under a running verification. The
 * source runs on a server of its own, so only the catalog goes away. The activities that reach
 * the catalog while it is down fail and are retried: the backup completes and restores identical,
 * the verification ends with its verdict, and no catalog row is lost or written twice.
 */

describe('catalog faults: its PostgreSQL restarted mid-backup and mid-verification', () => {
  let platform: Platform;
  let cluster: LocalCluster;
  let source: PgTarget;

  before(async () => {
    platform = await startPlatform();
    cluster = await startTestCluster(platform.dir, { name: 'source' });
    source = await createFilledDatabase(cluster, 'ledger', LEDGER);
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'ledger', url: targetUrl(source), verifyAfterBackup: false });
  });

  after(async () => {
    await platform?.stop();
    await cluster?.stop('immediate');
  });

  /** Each catalog table a backup or a verification writes, counted. */
  async function rowCounts(): Promise<Record<string, number>> {
    const { rows } = await platform.runtime.catalog.pool.query<{ t: string; n: number }>(
      `select 'backups' as t, count(*)::int as n from backups union all
       select 'backup_copies', count(*)::int from backup_copies union all
       select 'verifications', count(*)::int from verifications`,
    );
    return Object.fromEntries(rows.map((r) => [r.t, r.n]));
  }

  async function restartCatalog(): Promise<void> {
    await platform.cluster.stop('fast');
    await platform.cluster.start();
  }

  it('mid-backup: the backup completes once, with one row and one copy, and restores identical', async () => {
    const before = await rowCounts();
    const backup = await platform.ops.startBackup('ledger');
    await dumpIsCopying(cluster);
    await restartCatalog();
    const outcome = await backup.result();
    assert.equal(outcome.status, 'complete');
    assert.deepEqual(await rowCounts(), {
      ...before,
      backups: before.backups! + 1,
      backup_copies: before.backup_copies! + 1,
    });
    await assertRestoresIdentical(platform, { database: 'ledger', backupId: outcome.backupId, source }, 'restored');
    await assertInAgreement(platform);
  });

  it('mid-verification: the verification ends successful, recorded once', async () => {
    const before = await rowCounts();
    const requested = await platform.ops.requestVerification('ledger');
    await waitFor(
      'the verification restoring',
      async () => {
        const v = await platform.runtime.catalog.verifications.get(requested.verificationId).catch(() => undefined);
        return v?.status === 'running' ? true : undefined;
      },
      60_000,
      50,
    );
    await restartCatalog();
    const verdict = await requested.finished();
    assert.equal(verdict.status, 'successful', verdict.reason ?? '');
    assert.deepEqual(await rowCounts(), { ...before, verifications: before.verifications! + 1 });
    await assertInAgreement(platform);
  });
});
