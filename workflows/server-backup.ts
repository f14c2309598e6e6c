import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  executeChild,
  getExternalWorkflowHandle,
  patched,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { backupDatabaseWorkflow, backupWorkflowId, type BackupDatabaseInput } from '../temporal/contracts/backup.ts';
import { healthMonitorWorkflow, healthWorkflowId, type HealthMonitorInput } from '../temporal/contracts/health.ts';
import { gfsRetentionWorkflow, retentionWorkflowId, type GfsRetentionInput } from '../temporal/contracts/retention.ts';
import {
  SERVER_BACKUP_CONCURRENCY,
  serverBackupInput,
  serverBackupWorkflow,
  type ServerBackupInput,
  type ServerBackupOutcome,
  type ServerBackupResult,
  type ServerDiscovery,
} from '../temporal/contracts/servers.ts';
import type { backupDatabase } from './backup-database.ts';
import { catalogActivities as quick, sourceProbeActivities as probe } from './activity-options.ts';
import { parseInput, rootMessage } from './validate.ts';

/**
 * One run over a whole server (`server/<name>/…`, or its schedule): discovery first (new databases
 * registered, dropped ones marked, people told), then a `backupDatabase` child per database, at
 * most SERVER_BACKUP_CONCURRENCY at once, each pruned by its retention policy once backed up. One
 * database's failure never stops the others: each result is reported.
 */
export async function serverBackup(raw: ServerBackupInput): Promise<ServerBackupOutcome> {
  const input = parseInput(serverBackupWorkflow.type, serverBackupInput, raw);
  const discovery = await probe.discoverServer({ server: input.server, runId: workflowInfo().workflowId });
  // The health sweep checks every registered database that is not dropped; runs begun before it
  // still start the per-database monitors they started, so that they replay.
  if (!patched('health-sweep')) await followHealth(discovery);
  const prune = new Set(discovery.retention);
  const queue = [...discovery.backup];
  const backups: ServerBackupResult[] = [];
  const lane = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift())
      backups.push(await backUp(next, input.trigger, prune.has(next)));
  };
  await Promise.all(Array.from({ length: SERVER_BACKUP_CONCURRENCY }, lane));
  backups.sort((a, b) => a.database.localeCompare(b.database));
  const outcome: ServerBackupOutcome = { ...discovery, backups };
  await quick.recordServerRun({ outcome });
  return outcome;
}

/** One database's backup as a child run, then its retention; a failure is its result, not the run's. */
async function backUp(database: string, trigger: 'manual' | 'schedule', prune: boolean): Promise<ServerBackupResult> {
  const workflowId = backupWorkflowId(database, new Date());
  const args: BackupDatabaseInput = { database, trigger };
  try {
    const outcome = await executeChild<typeof backupDatabase>(backupDatabaseWorkflow.type, {
      workflowId,
      args: [args],
    });
    if (prune) {
      const retention: GfsRetentionInput = { database };
      await executeChild(gfsRetentionWorkflow.type, {
        workflowId: retentionWorkflowId(database, new Date()),
        args: [retention],
      });
    }
    return { database, workflowId, status: outcome.status, backupId: outcome.backupId };
  } catch (error) {
    return { database, workflowId, status: 'failed', error: rootMessage(error) };
  }
}

/**
 * A new or reappearing database gets its health monitor, as `db add` gives one; a dropped one's is
 * cancelled, so that a database that is gone is not reported down forever.
 */
async function followHealth(discovery: ServerDiscovery): Promise<void> {
  const watched = [...discovery.registered.map((r) => r.name), ...discovery.reappeared];
  for (const database of watched) {
    const args: HealthMonitorInput = { database };
    await startChild(healthMonitorWorkflow.type, {
      workflowId: healthWorkflowId(database),
      args: [args],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    }).catch(() => undefined); // already running
  }
  for (const database of discovery.dropped)
    await getExternalWorkflowHandle(healthWorkflowId(database))
      .cancel()
      .catch(() => undefined); // not running
}
