import type { Client } from '@temporalio/client';
import type { Catalog } from '../../lib/catalog/catalog.ts';
import { errorMessage } from '../../lib/errors.ts';
import { backupProgressQuery } from '../../temporal/contracts/backup.ts';
import { restoreBackupWorkflow, restoreProgressQuery } from '../../temporal/contracts/restore.ts';
import { verifierWorkflowId } from '../../temporal/contracts/verify.ts';
import type { Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';

/** One job of a database that is running now, as its workflow reports it. */
export interface LiveJob {
  kind: 'backup' | 'restore' | 'verification';
  /** The backup, restore or verification id. */
  id: string;
  workflowId: string;
  /** The workflow's own stage name (backup: starting … dumping, copying, complete; restore: … restoring, verifying). */
  stage: string;
  /** Bytes done so far: dumped for a backup, read for a restore; null when the job does not count bytes. */
  bytes: number | null;
  /** What `bytes` is heading for: the previous complete backup's dump size; null when unknown. */
  expectedBytes: number | null;
  /** True once the workflow says the job has ended (the last event a client sees for it). */
  finished: boolean;
  startedAt: string | null;
  error: string | null;
}

const BACKUP_DONE = new Set(['complete', 'partial', 'failed', 'cancelled']);
const RESTORE_DONE = new Set(['verified', 'failed', 'aborted']);

const progressUnavailable = (error: unknown) => `progress unavailable: ${errorMessage(error)}`;

/** How a backup shows while its workflow does not answer its progress query (the worker is restarting). */
const unanswered = (error: unknown) => ({
  stage: 'starting',
  bytes: null,
  finished: false,
  error: progressUnavailable(error),
});

type BackupBase = Pick<LiveJob, 'id' | 'workflowId' | 'expectedBytes' | 'startedAt'> & { kind: 'backup' };

/** A running backup as its workflow's `progress` query reports it. */
async function queriedBackup(temporal: Client, base: BackupBase): Promise<LiveJob> {
  try {
    const p = await temporal.workflow.getHandle(base.workflowId).query(backupProgressQuery);
    return { ...base, stage: p.stage, bytes: p.dumpBytes, finished: BACKUP_DONE.has(p.stage), error: p.error };
  } catch (error) {
    return { ...base, ...unanswered(error) };
  }
}

async function runningBackups(catalog: Catalog, temporal: Client, database: string): Promise<LiveJob[]> {
  const recent = await catalog.listBackups(database, 50);
  const running = recent.filter((b) => b.status === 'running');
  return Promise.all(
    running.map((b) => {
      // The bar's length: the dump size of the newest complete backup before this one.
      const previous = recent.find(
        (p) => p.startedAt < b.startedAt && (p.status === 'complete' || p.status === 'partial') && p.dumpBytes,
      );
      return queriedBackup(temporal, {
        kind: 'backup' as const,
        id: b.id,
        workflowId: b.workflowId,
        expectedBytes: previous?.dumpBytes ?? null,
        startedAt: b.startedAt.toISOString(),
      });
    }),
  );
}

/** A running restore workflow as its `progress` query reports it, sized by the backup it reads. */
async function restoreJob(
  catalog: Catalog,
  temporal: Client,
  execution: { workflowId: string; startTime: Date },
): Promise<LiveJob> {
  const base = {
    kind: 'restore' as const,
    workflowId: execution.workflowId,
    startedAt: execution.startTime.toISOString(),
  };
  try {
    const p = await temporal.workflow.getHandle(execution.workflowId).query(restoreProgressQuery);
    const expected = p.backupId
      ? ((await catalog.getBackup(p.backupId).catch(() => undefined))?.sizeBytes ?? null)
      : null;
    return {
      ...base,
      id: p.restoreId,
      stage: p.stage,
      bytes: p.readBytes,
      expectedBytes: expected,
      finished: RESTORE_DONE.has(p.stage),
      error: p.error,
    };
  } catch (error) {
    return {
      ...base,
      id: execution.workflowId,
      stage: 'starting',
      bytes: null,
      expectedBytes: null,
      finished: false,
      error: progressUnavailable(error),
    };
  }
}

async function runningRestores(catalog: Catalog, temporal: Client, database: string): Promise<LiveJob[]> {
  const jobs: LiveJob[] = [];
  const escaped = database.replace(/'/g, "\\'");
  const query = `WorkflowType = '${restoreBackupWorkflow.type}' AND ExecutionStatus = 'Running' AND HindsightDatabase = '${escaped}'`;
  for await (const execution of temporal.workflow.list({ query, pageSize: 20 })) {
    jobs.push(await restoreJob(catalog, temporal, execution));
    if (jobs.length >= 20) break;
  }
  return jobs;
}

async function runningVerifications(catalog: Catalog, database: string): Promise<LiveJob[]> {
  const recent = await catalog.verifications.list(database, 10);
  return recent
    .filter((v) => v.status === 'running')
    .map((v) => {
      const stages = v.report?.stages ?? [];
      const current = stages.at(-1);
      return {
        kind: 'verification' as const,
        id: v.id,
        workflowId: verifierWorkflowId(database),
        stage: current?.stage ?? 'starting',
        bytes: null,
        expectedBytes: null,
        finished: false,
        startedAt: v.startedAt,
        error: null,
      };
    });
}

async function runningJobs(catalog: Catalog, temporal: Client, database: string): Promise<LiveJob[]> {
  await catalog.getDatabase(database);
  const [backups, restores, verifications] = await Promise.all([
    runningBackups(catalog, temporal, database),
    // Visibility can lag or be unavailable; the backups alone are still worth showing.
    runningRestores(catalog, temporal, database).catch(() => [] as LiveJob[]),
    runningVerifications(catalog, database),
  ]);
  return [...backups, ...restores, ...verifications];
}

/** The progress of one backup, running or not: how a client learns the end of a job it watched. */
async function backupProgress(catalog: Catalog, temporal: Client, backupId: string): Promise<LiveJob> {
  const b = await catalog.getBackup(backupId);
  const base = {
    kind: 'backup' as const,
    id: b.id,
    workflowId: b.workflowId,
    expectedBytes: null,
    startedAt: b.startedAt.toISOString(),
  };
  // Once the catalog records the outcome it is the answer; the workflow may still be running post_backup hooks.
  if (b.status !== 'running') return { ...base, stage: b.status, bytes: b.dumpBytes, finished: true, error: b.error };
  return queriedBackup(temporal, base);
}

/**
 * The running jobs of a database with their live progress: backups from the catalog (their rows say
 * `running` until the workflow ends), restores from Temporal's visibility (one list call), and
 * verifications from the report their workflow saves after every stage. Each workflow is asked
 * through its `progress` query; a query that fails (the worker is restarting) shows the job with
 * the catalog's view rather than hiding it.
 */
export function createJobProgress(catalog: Catalog, temporal: Client) {
  return {
    runningJobs: (database: string) => runningJobs(catalog, temporal, database),
    backupProgress: (backupId: string) => backupProgress(catalog, temporal, backupId),
  };
}

export type JobProgress = ReturnType<typeof createJobProgress>;

/** A database's live jobs, for those who may read its history. */
export class JobService {
  private readonly ctx: ServiceContext;
  private readonly progress: JobProgress;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
    this.progress = createJobProgress(ctx.runtime.catalog, ctx.temporal);
  }

  running(actor: Actor, database: string): Promise<LiveJob[]> {
    return this.ctx.guard.run(actor, { database }, 'history.read', () => this.progress.runningJobs(database));
  }

  backup(actor: Actor, backupId: string): Promise<LiveJob> {
    return this.ctx.guard.run(actor, { backup: backupId }, 'history.read', () =>
      this.progress.backupProgress(backupId),
    );
  }
}
