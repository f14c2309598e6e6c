/**
 * Starting and stopping backup jobs: a backup now, a copy of a partial backup into the storages it
 * missed, and the cancel signal. Each is authorized and audited by the guard, then started through
 * temporal/start.ts with the workflow's contract.
 */
import { randomBytes } from 'node:crypto';
import { HindsightError } from '../../lib/errors.ts';
import {
  backupDatabaseWorkflow,
  backupWorkflowId,
  cancelBackupSignal,
  replicateBackupWorkflow,
  replicateWorkflowId,
  type BackupDatabaseInput,
} from '../../temporal/contracts/backup.ts';
import { backupIdAt } from '../../temporal/contracts/common.ts';
import { startJob } from '../../temporal/start.ts';
import type { Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';

export class BackupJobs {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** Starts `backupDatabase` now; `result()` waits for its outcome. */
  async start(actor: Actor, database: string, trigger: BackupDatabaseInput['trigger'] = 'manual') {
    const {
      temporal,
      runtime: { config },
    } = this.ctx;
    return this.ctx.guard.run(
      actor,
      { database },
      'backup.start',
      async () => {
        const now = new Date();
        const backupId = backupIdAt(now, randomBytes(3).toString('hex'));
        const workflowId = backupWorkflowId(database, now);
        const handle = await startJob(temporal, backupDatabaseWorkflow, {
          workflowId,
          taskQueue: config.taskQueue,
          input: { database, trigger, backupId },
          database,
          onConflict: 'fail',
        });
        return { backupId, workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
      },
      { after: (r) => ({ backupId: r.backupId, workflowId: r.workflowId, trigger }) },
    );
  }

  /** Asks a running backup to stop; its workflow records it as cancelled. */
  async cancel(actor: Actor, backupId: string, reason?: string) {
    const { catalog } = this.ctx.runtime;
    return this.ctx.guard.run(
      actor,
      { backup: backupId },
      'backup.cancel',
      async () => {
        const backup = await catalog.getBackup(backupId);
        if (backup.status !== 'running')
          throw new HindsightError(
            'conflict',
            `backup ${backupId} is ${backup.status}: only a running backup can be cancelled`,
          );
        await this.ctx.temporal.workflow.getHandle(backup.workflowId).signal(cancelBackupSignal, reason);
        return { backupId, workflowId: backup.workflowId };
      },
      { after: () => ({ reason: reason ?? null }) },
    );
  }

  /** Copies a partial backup into the storages that miss it, without dumping again. */
  async replicate(actor: Actor, backupId: string) {
    const {
      temporal,
      runtime: { catalog, config },
    } = this.ctx;
    return this.ctx.guard.run(
      actor,
      { backup: backupId },
      'backup.start',
      async () => {
        const backup = await catalog.getBackup(backupId);
        if (backup.status !== 'partial' && backup.status !== 'complete') {
          throw new HindsightError(
            'bad_input',
            `backup ${backupId} is ${backup.status}: only a partial backup can be copied to the storages it missed`,
          );
        }
        const workflowId = replicateWorkflowId(backupId, new Date());
        const handle = await startJob(temporal, replicateBackupWorkflow, {
          workflowId,
          taskQueue: config.taskQueue,
          input: { database: backup.databaseName, backupId },
          database: backup.databaseName,
          onConflict: 'fail',
        });
        return { workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
      },
      { before: null, after: (r) => ({ workflowId: r.workflowId, kind: 'copy' }) },
    );
  }
}
