/**
 * Following a restore: its workflow's state, its `progress` query and, once it ended, its outcome
 * or the innermost reason it failed. The id names the database, whose readers may follow it.
 */
import { describeFigures, type RestoreFigures } from '../../lib/pitr/restore-figures.ts';
import type { WorkflowHandle } from '@temporalio/client';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import type { DatabaseExtraction } from '../../lib/pitr/extract-database.ts';
import { describeInstructions, pitrInstructions, type PitrInstructions } from '../../lib/pitr/result-instructions.ts';
import { workflowUrl } from '../../temporal/client.ts';
import { pitrProgressQuery, pitrRestoreWorkflow, type PitrOutcome } from '../../temporal/contracts/pitr.ts';
import {
  databaseOfRestoreId,
  restoreBackupWorkflow,
  restoreProgressQuery,
  type RestoreOutcome,
} from '../../temporal/contracts/restore.ts';
import type { Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';

export interface RestoreStatus {
  workflowId: string;
  database: string;
  kind: 'logical' | 'pitr';
  /** Temporal's state of the workflow. */
  state: 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed_out' | 'unknown';
  stage: string;
  startedAt: string | null;
  closedAt: string | null;
  /** totalBytes: the stored object's size, which readBytes grows towards. */
  logical: null | { backupId: string | null; readBytes: number; restoredBytes: number; totalBytes: number | null };
  pitr: null | {
    baseBackupId: string | null;
    window: string | null;
    extractedBytes: number;
    segmentsFetched: number;
    replayLsn: string | null;
  };
  error: string | null;
  /** Set once the restore finished and its check passed. */
  verified: null | {
    backupId: string | null;
    target: string;
    tablesChecked: number | null;
    rowsChecked: number | null;
    storageName: string | null;
    warnings: string[];
    /** The dump snapshot's per-table counts, which the restored tables were compared with (logical restores). */
    tables: Array<{ schema: string; table: string; rows: number }>;
    pitr:
      | null
      | (Pick<
          PitrOutcome,
          'reachedLsn' | 'lastTransactionTime' | 'newTimeline' | 'dataDirectory' | 'port' | 'kept' | 'note'
        > & {
          /** How to connect to, stop or start the kept server and copy data out of it; null for a sandbox. */
          instructions: PitrInstructions | null;
          /** The same, as the lines the CLI prints. */
          instructionsText: string | null;
          /** With a target server: the database copied there (tables, rows, duration). */
          extracted: DatabaseExtraction | null;
          /** Time to a usable server, stage times, WAL replayed and its rate (lib/pitr/restore-figures.ts); null in older runs. */
          figures: RestoreFigures | null;
          /** The same, as the line the CLI prints. */
          figuresText: string | null;
        });
  };
  workflowUrl: string;
  temporalUiUrl: string;
}

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

const STATES: Record<string, RestoreStatus['state']> = {
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
};

/** The innermost message of a Temporal failure: the activity's own words, not "Activity task failed". */
function rootCause(error: unknown): string {
  let current = error as { cause?: unknown; message?: string } | undefined;
  let message = errorMessage(error);
  while (current && typeof current === 'object') {
    if (current.message) message = current.message;
    current = current.cause as typeof current;
  }
  return message;
}

const missing = (workflowId: string) => new HindsightError('not_found', `restore "${workflowId}" does not exist`);

export class RestoreStatusService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** /api/v1's view: the workflow's status and its raw `progress` answer. */
  async progress(actor: Actor, workflowId: string) {
    const [kind, database] = workflowId.split('/');
    if (kind !== 'restore' || !database) {
      throw new HindsightError(
        'not_found',
        `restore "${workflowId}" does not exist (the id is the workflowId its start returned, restore/<db>/<time>)`,
      );
    }
    await this.ctx.guard.require(actor, { database }, 'history.read');
    const handle = this.ctx.temporal.workflow.getHandle(workflowId);
    const described = await handle.describe().catch((error: unknown) => {
      if ((error as { name?: string }).name === 'WorkflowNotFoundError') {
        throw new HindsightError(
          'not_found',
          `restore "${workflowId}" does not exist (the id is the workflowId its start returned)`,
        );
      }
      throw error;
    });
    if (described.type !== restoreBackupWorkflow.type && described.type !== pitrRestoreWorkflow.type) {
      throw new HindsightError(
        'not_found',
        `restore "${workflowId}" does not exist (the id is the workflowId its start returned)`,
      );
    }
    // Both restore workflows answer the same query name; the logical definition reads either.
    const progress: unknown = await handle.query(restoreProgressQuery).catch(() => null);
    // A finished point-in-time restore: what it measured, and for a directory how to use the server it left.
    const outcome =
      described.type === pitrRestoreWorkflow.type && described.status.name === 'COMPLETED'
        ? ((await handle.result()) as PitrOutcome)
        : undefined;
    const kept = outcome?.server;
    return {
      workflowId,
      type: described.type,
      status: described.status.name,
      startedAt: described.startTime.toISOString(),
      closedAt: described.closeTime?.toISOString() ?? null,
      progress,
      instructions: kept ? pitrInstructions(kept) : null,
      figures: outcome?.figures ?? null,
    };
  }

  /** The console's view: stage, bytes, and the checked outcome once it finished. */
  async status(actor: Actor, workflowId: string): Promise<RestoreStatus> {
    const { config } = this.ctx.runtime;
    const database = databaseOfRestoreId(workflowId);
    if (!database)
      throw new HindsightError(
        'not_found',
        `restore "${workflowId}" does not exist (restore ids look like restore/<database>/<time>)`,
      );
    await this.ctx.guard.require(actor, { database }, 'history.read');
    const handle = this.ctx.temporal.workflow.getHandle(workflowId);
    const description = await handle.describe().catch(() => {
      throw missing(workflowId);
    });
    const kind =
      description.type === pitrRestoreWorkflow.type
        ? 'pitr'
        : description.type === restoreBackupWorkflow.type
          ? 'logical'
          : null;
    if (!kind) throw missing(workflowId);
    const state = STATES[description.status.name] ?? 'unknown';
    const status: RestoreStatus = {
      workflowId,
      database,
      kind,
      state,
      stage: state,
      startedAt: iso(description.startTime),
      closedAt: iso(description.closeTime ?? null),
      logical: null,
      pitr: null,
      error: null,
      verified: null,
      workflowUrl: workflowUrl(config.temporalUiUrl, config.temporalNamespace, workflowId),
      temporalUiUrl: config.temporalUiUrl,
    };
    await this.readProgress(handle, status);
    if (state === 'completed') await this.readOutcome(handle, status);
    else if (state !== 'running' && state !== 'unknown') {
      try {
        await handle.result();
      } catch (error) {
        status.error = rootCause(error);
      }
      // A terminated or timed-out run never reached its own catch block: its last stage would mislead.
      if (state !== 'failed' || status.stage === 'running') status.stage = state;
    }
    return status;
  }

  /** A closed workflow answers queries by replay, which needs a worker; its result needs none. */
  private async readProgress(handle: WorkflowHandle, status: RestoreStatus): Promise<void> {
    try {
      if (status.kind === 'logical') {
        const p = await handle.query(restoreProgressQuery);
        // The id names the database, but anyone with Temporal access could start one under a misleading id: trust the workflow's own answer.
        if (p.database !== status.database) throw missing(status.workflowId);
        const backup = p.backupId
          ? await this.ctx.runtime.catalog.getBackup(p.backupId).catch(() => undefined)
          : undefined;
        status.stage = p.stage;
        status.logical = {
          backupId: p.backupId,
          readBytes: p.readBytes,
          restoredBytes: p.restoredBytes,
          totalBytes: backup?.sizeBytes ?? null,
        };
        status.error = p.error;
      } else {
        const p = await handle.query(pitrProgressQuery);
        if (p.database !== status.database) throw missing(status.workflowId);
        status.stage = p.stage;
        status.pitr = {
          baseBackupId: p.baseBackupId,
          window: p.window,
          extractedBytes: p.extractedBytes,
          segmentsFetched: p.segmentsFetched,
          replayLsn: p.replayLsn,
        };
        status.error = p.error;
      }
    } catch (error) {
      if (error instanceof HindsightError) throw error;
      if (status.state === 'running') status.error = `progress is not available yet: ${errorMessage(error)}`;
    }
  }

  private async readOutcome(handle: WorkflowHandle, status: RestoreStatus): Promise<void> {
    if (status.kind === 'logical') {
      const outcome = (await handle.result()) as RestoreOutcome;
      const backup = await this.ctx.runtime.catalog.getBackup(outcome.backupId).catch(() => undefined);
      status.stage = 'verified';
      status.verified = {
        backupId: outcome.backupId,
        target: outcome.target,
        tablesChecked: outcome.tablesChecked,
        rowsChecked: outcome.rowsChecked,
        storageName: outcome.storageName,
        warnings: outcome.warnings ?? [],
        tables: backup?.rowCounts ?? [],
        pitr: null,
      };
      return;
    }
    const o = (await handle.result()) as PitrOutcome;
    const instructions = o.server && pitrInstructions(o.server);
    status.stage = 'promoted';
    status.verified = {
      backupId: o.baseBackupId,
      target: o.kept
        ? `${o.dataDirectory} (127.0.0.1:${o.port}${o.server?.running === false ? ', stopped' : ''})`
        : o.extracted
          ? `database ${o.extracted.target} (copied from a sandbox, then removed)`
          : 'sandbox (checked and removed)',
      tablesChecked: null,
      rowsChecked: null,
      storageName: null,
      warnings: o.note ? [o.note] : [],
      tables: [],
      pitr: {
        reachedLsn: o.reachedLsn,
        lastTransactionTime: o.lastTransactionTime,
        newTimeline: o.newTimeline,
        dataDirectory: o.dataDirectory,
        port: o.port,
        kept: o.kept,
        note: o.note,
        instructions: instructions ?? null,
        instructionsText: instructions ? describeInstructions(instructions) : null,
        extracted: o.extracted ?? null,
        figures: o.figures ?? null,
        figuresText: o.figures ? describeFigures(o.figures) : null,
      },
    };
  }
}
