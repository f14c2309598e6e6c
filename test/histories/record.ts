/**
 * Records the histories that the replay test runs against, on real servers: a backup, a restore,
 * the verification that follows, a retention run, the health monitor and the notification
 * delivery of a small database, the overdue watchdog, and the PITR workflows (WAL archiver, base
 * backup, chain monitor, point-in-time restore) of another. Run it after a deliberate change to
 * workflow code, and commit the result together with that change (`npm run histories`). Before
 * re-recording for a release, copy the previous histories to test/histories/v<version>/ so that
 * runs begun by it keep replaying.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { createDatabase, startPlatform } from '../support/platform.ts';
import { enablePitr, restore as restorePitr, startPitrSource, stopArchiver, stopRestoredServer, takeBaseBackup, waitUntilArchived, writeRows } from '../support/pitr-fixture.ts';
import { waitFor } from '../support/wait.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// Histories hold encrypted payloads: they are recorded under a fixed key, used only for this, that
// the replay test reads too.
const secretKeyHex = (await readFile(path.join(here, 'history.key'), 'utf8')).trim();
const platform = await startPlatform({ secretKeyHex });
try {
  const source = await createDatabase(platform.cluster, 'history');
  const client = await connect('history', source);
  await client.query('create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 1000) g');
  await client.end();
  await platform.startWorker();
  await platform.ops.addDatabase({ name: 'history', url: targetUrl(source) });
  const backup = await platform.ops.startBackup('history');
  const outcome = await backup.result();
  const restore = await platform.ops.startRestore({ database: 'history', backupId: outcome.backupId, to: { database: 'history_restored' } });
  await restore.result();
  // The backup asked for its verification; wait for the report so the verifier's history holds a whole run.
  for (;;) {
    const [v] = await platform.ops.listVerifications('history');
    if (v && !['pending', 'running'].includes(v.status)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await platform.ops.setRetentionPolicy('history', { kind: 'count', keepLast: 5 });
  const retention = await platform.ops.startRetention('history');
  await retention.result();
  const watchdog = await platform.client.workflow.execute('backupWatchdog', { taskQueue: platform.config.taskQueue, workflowId: 'watchdog/history', args: [{}] });
  process.stdout.write(`watchdog: ${JSON.stringify(watchdog)}\n`);

  // Point-in-time recovery of a second database: archive, base backup, more rows, chain, restore.
  const pitr = await startPitrSource(platform, 'pitrhist');
  await enablePitr(platform, pitr);
  await writeRows(pitr, 1000, 100);
  const base = await takeBaseBackup(platform, 'pitrhist', 'history');
  await writeRows(pitr, 1000, 100, 'after');
  await waitUntilArchived(platform, pitr);
  await platform.client.workflow.start('walChainMonitor', { taskQueue: platform.config.taskQueue, workflowId: 'walchain/pitrhist', args: [{ database: 'pitrhist', intervalSeconds: 3600 }] });
  await waitFor('the chain monitor\'s first round', async () => {
    const chain = await platform.client.workflow.getHandle('walchain/pitrhist').query<{ rounds: number }>('chain');
    return chain.rounds > 0 ? true : undefined;
  }, 60_000, 300);
  const restoreDir = path.join(platform.dir, 'pitr-restored');
  const pitrOutcome = await restorePitr(platform, { database: 'pitrhist', target: 'latest', to: { directory: restoreDir } }, 'history');
  await stopRestoredServer(restoreDir);
  await stopArchiver(platform, 'pitrhist');
  process.stdout.write(`base backup ${base.baseBackupId}; pitr restore reached ${pitrOutcome.reachedLsn}\n`);

  const recorded = [
    ['backupDatabase', backup.workflowId], ['restoreBackup', restore.workflowId], ['restoreVerifier', 'verify/history'],
    ['gfsRetention', retention.workflowId], ['healthMonitor', 'health/history'], ['deliverNotifications', 'notify/history'],
    ['backupWatchdog', 'watchdog/history'], ['walArchiver', 'wal/pitrhist'], ['baseBackup', 'basebackup/pitrhist/history'],
    ['walChainMonitor', 'walchain/pitrhist'], ['pitrRestore', 'restore/pitrhist/history'],
  ] as const;
  for (const [name, workflowId] of recorded) {
    const history = await platform.client.workflow.getHandle(workflowId).fetchHistory();
    await writeFile(path.join(here, `${name}.json`), `${historyToJSON(history)}\n`);
    process.stdout.write(`recorded ${name} (${history.events?.length} events)\n`);
  }
} finally {
  await platform.stop();
}
