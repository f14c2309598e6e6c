/**
 * Records the histories that the replay test runs against: a backup, a restore, the verification
 * that follows, a retention run and the health monitor of a small database, on real servers. Run it after a deliberate change to workflow code, and commit the
 * result together with that change (`npm run histories`).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { createDatabase, startPlatform } from '../support/platform.ts';

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
  const recorded = [
    ['backupDatabase', backup.workflowId], ['restoreBackup', restore.workflowId], ['restoreVerifier', 'verify/history'],
    ['gfsRetention', retention.workflowId], ['healthMonitor', 'health/history'],
  ] as const;
  for (const [name, workflowId] of recorded) {
    const history = await platform.client.workflow.getHandle(workflowId).fetchHistory();
    await writeFile(path.join(here, `${name}.json`), `${historyToJSON(history)}\n`);
    process.stdout.write(`recorded ${name} (${history.events?.length} events)\n`);
  }
} finally {
  await platform.stop();
}
