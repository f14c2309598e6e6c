/**
 * Starting and stopping backup jobs: a backup now, a copy of a backup into the storages it missed
 * or into others of its workspace, and the cancel signal. Each is authorized and audited by the guard, then started through
 * temporal/start.ts with the workflow's contract.
 */
import { randomBytes } from 'node:crypto';
import type { BackupRecord } from '../../lib/catalog/catalog.ts';
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
import { startRun } from '../../temporal/start.ts';
import type { Action, Actor } from '../authz.ts';
import type { AuditNote, Granted } from '../guard.ts';
import type { ServiceContext } from '../context.ts';
import { deleteBackupByHand, type DeleteBackupOptions } from './delete.ts';

/** Where `replicate` copies to: the storages named, or (left out) those that missed the backup. */
export interface CopyOptions {
  storages?: string[];
}

export class BackupJobs {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** Starts `backupDatabase` now; `result()` waits for its outcome. */
  async start(actor: Actor, database: string, trigger: BackupDatabaseInput['trigger'] = 'manual') {
    return this.ctx.guard.run(
      actor,
      { database },
      'backup.start',
      async () => {
        const now = new Date();
        const backupId = backupIdAt(now, randomBytes(3).toString('hex'));
        const workflowId = backupWorkflowId(database, now);
        const input = { database, trigger, backupId };
        const handle = await startRun(this.ctx, backupDatabaseWorkflow, { workflowId, input, database });
        return { backupId, workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
      },
      { after: (r) => ({ backupId: r.backupId, workflowId: r.workflowId, trigger }) },
    );
  }

  /** Asks a running backup to stop; its workflow records it as cancelled. */
  async cancel(actor: Actor, backupId: string, reason?: string) {
    return this.onBackup(
      actor,
      backupId,
      'backup.cancel',
      async (backup) => {
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

  /** Deletes one backup from every storage and the catalog, or with `dryRun` says what would go (services/backups/delete.ts). */
  delete(actor: Actor, backupId: string, options: DeleteBackupOptions = {}) {
    return deleteBackupByHand(this.ctx, actor, backupId, options);
  }

  /**
   * Copies a backup into the storages that miss it, without dumping again; with `storages`, into
   * exactly those: any storage of the database's workspace that does not hold the backup whole yet
   * (an older backup into a storage added since).
   */
  async replicate(actor: Actor, backupId: string, options: CopyOptions = {}) {
    return this.onBackup(
      actor,
      backupId,
      'backup.start',
      async (backup, granted) => {
        if (backup.status !== 'partial' && backup.status !== 'complete') {
          throw new HindsightError(
            'bad_input',
            `backup ${backupId} is ${backup.status}: only a complete or partial backup can be copied to another storage`,
          );
        }
        if (!options.storages) return this.startCopy(backup);
        const storages = [...new Set(options.storages)];
        if (storages.length === 0)
          throw new HindsightError('bad_input', `name at least one storage to copy backup ${backupId} into`);
        for (const name of storages) {
          await this.checkCopyTarget(actor, granted.workspaceId, backup.databaseName, name);
          if (backup.copies.some((c) => c.storageName === name && c.status === 'complete')) {
            throw new HindsightError(
              'conflict',
              `backup ${backupId} already has a complete copy in storage "${name}": there is nothing to copy`,
            );
          }
        }
        return this.startCopy(backup, storages);
      },
      { before: null, after: (r) => ({ workflowId: r.workflowId, kind: 'copy', storages: r.storages ?? 'missed' }) },
    );
  }

  /**
   * Copies every restorable (complete or partial) backup of a database that `storage` does not
   * hold whole into it, newest first: one `replicateBackup` run per backup, so that each copy is
   * retried, reported and shown in the Temporal UI on its own, and the worker's activity slots
   * bound how many run at once. Nothing to copy is not an error: `started` is then empty.
   */
  async copyAllTo(actor: Actor, database: string, storage: string) {
    const { guard, runtime } = this.ctx;
    return guard.run(
      actor,
      { database },
      'backup.start',
      async (granted) => {
        await this.checkCopyTarget(actor, granted.workspaceId, database, storage);
        const backups = (await runtime.catalog.listBackups(database, 100_000)).filter(
          (b) =>
            (b.status === 'complete' || b.status === 'partial') &&
            !b.copies.some((c) => c.storageName === storage && c.status === 'complete'),
        );
        const started = [];
        for (const backup of backups)
          started.push({ backupId: backup.id, ...(await this.startCopy(backup, [storage])) });
        return { database, storage, started };
      },
      { before: null, after: (r) => ({ kind: 'copy', storage, backups: r.started.map((s) => s.backupId) }) },
    );
  }

  /**
   * A storage a backup of `database` may be copied into: one of the database's workspace. The
   * guard answers "does not exist" for a storage the actor cannot see, as for any other name.
   */
  private async checkCopyTarget(actor: Actor, workspaceId: number, database: string, name: string): Promise<void> {
    const storage = await this.ctx.guard.require(actor, { storage: name }, 'history.read');
    if (storage.workspaceId !== workspaceId) {
      throw new HindsightError(
        'bad_input',
        `storage "${name}" belongs to another workspace: backups of database "${database}" are copied only to storages of its own workspace`,
      );
    }
  }

  /** Starts `replicateBackup` for one backup: into `storages`, or into those that missed it. */
  private async startCopy(backup: BackupRecord, storages?: string[]) {
    const workflowId = replicateWorkflowId(backup.id, new Date());
    const database = backup.databaseName;
    const input = { database, backupId: backup.id, ...(storages ? { storages } : {}) };
    const handle = await startRun(this.ctx, replicateBackupWorkflow, { workflowId, input, database });
    return { workflowId, runId: handle.firstExecutionRunId, storages, result: () => handle.result() };
  }

  /** An action on one backup, through the guard, given the backup's record. */
  private onBackup<T>(
    actor: Actor,
    backupId: string,
    action: Action,
    work: (backup: BackupRecord, granted: Granted) => Promise<T>,
    note: AuditNote<T>,
  ): Promise<T> {
    return this.ctx.guard.run(
      actor,
      { backup: backupId },
      action,
      async (granted) => work(await this.ctx.runtime.catalog.getBackup(backupId), granted),
      note,
    );
  }
}
