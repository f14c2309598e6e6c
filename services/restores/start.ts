/**
 * The one way a restore starts, for the console, /api/v1 and the CLI alike: a logical restore of
 * a backup (`restoreBackup`) or a point-in-time restore from the WAL archive (`pitrRestore`).
 * The guard authorizes `restore.start` and audits it; a point in time is checked against the
 * recoverable windows that lib/pitr/window.ts decides — the same decision the workflow's planning
 * activity makes — so a target is refused here, at once, rather than by the workflow.
 */
import { RESTORE_PASSWORD_CONTEXT } from '../../activities/index.ts';
import { seal } from '../../lib/crypto/sealed.ts';
import { HindsightError } from '../../lib/errors.ts';
import { describeTarget as describeConnection, parsePgUrl } from '../../lib/pg/connection.ts';
import type { PitrTarget } from '../../lib/pitr/target.ts';
import { decidePitrTarget } from '../../lib/pitr/window.ts';
import {
  pitrRestoreInput,
  pitrRestoreWorkflow,
  pitrRestoreWorkflowId,
  type PitrDestination,
  type PitrRestoreInput,
} from '../../temporal/contracts/pitr.ts';
import { restoreBackupWorkflow, restoreWorkflowId, type RestoreTarget } from '../../temporal/contracts/restore.ts';
import { startRun } from '../../temporal/start.ts';
import { notFound, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { parseOrThrow } from '../input.ts';

export type LogicalTarget = { database: string } | { url: string };

export interface LogicalRestoreRequest {
  database: string;
  backupId?: string | undefined;
  to: LogicalTarget;
}

export interface PitrRestoreRequest {
  database: string;
  pointInTime: PitrRestoreInput['target'];
  to: PitrDestination;
  /** Refuse a database whose archiving is off (the console offers only those with PITR on). */
  requireArchiving?: boolean;
}

export type RestoreRequest = LogicalRestoreRequest | PitrRestoreRequest;

export class RestoreStarter {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** Starts the restore; `result()` waits for the workflow's outcome. */
  start(actor: Actor, request: LogicalRestoreRequest): ReturnType<RestoreStarter['startLogical']>;
  start(actor: Actor, request: PitrRestoreRequest): ReturnType<RestoreStarter['startPointInTime']>;
  start(
    actor: Actor,
    request: RestoreRequest,
  ): ReturnType<RestoreStarter['startLogical'] | RestoreStarter['startPointInTime']>;
  async start(actor: Actor, request: RestoreRequest) {
    const { guard } = this.ctx;
    const granted = await guard.require(actor, { database: request.database }, 'restore.start');
    if ('pointInTime' in request) {
      return guard.audited(actor, granted, 'restore.start', () => this.startPointInTime(request), {
        after: () => ({ pointInTime: true, to: request.to }),
      });
    }
    if (request.backupId) {
      const found = await guard.access.backupWorkspace(request.backupId);
      if (!found || !guard.can(actor, found.workspaceId, 'history.read'))
        throw notFound({ type: 'backup', name: request.backupId });
    }
    const to = 'url' in request.to ? { url: request.to.url } : { database: request.to.database };
    return guard.audited(actor, granted, 'restore.start', () => this.startLogical(request), {
      after: (r) => ({ workflowId: r.workflowId, backupId: request.backupId ?? 'newest', to }),
    });
  }

  /** Whether a point in time can be restored now: the plan, or the refusal naming the windows. */
  async check(actor: Actor, database: string, target: PitrTarget) {
    await this.ctx.guard.require(actor, { database }, 'history.read');
    return decidePitrTarget(this.ctx.runtime.catalog, database, target);
  }

  private async startLogical(request: LogicalRestoreRequest) {
    const { catalog, keyring } = this.ctx.runtime;
    await catalog.getDatabase(request.database);
    let to: RestoreTarget;
    if ('url' in request.to) {
      // The password never enters workflow history in clear: it is sealed with the secret key.
      const target = parsePgUrl(request.to.url);
      const url = describeConnection(target) + (target.sslmode ? `?sslmode=${target.sslmode}` : '');
      to = target.password
        ? { url, sealedPassword: seal(keyring.current(), target.password, RESTORE_PASSWORD_CONTEXT) }
        : { url };
    } else {
      to = { database: request.to.database };
    }
    const workflowId = restoreWorkflowId(request.database, new Date());
    const input = { database: request.database, backupId: request.backupId, to };
    const handle = await startRun(this.ctx, restoreBackupWorkflow, { workflowId, input, database: request.database });
    return { workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
  }

  private async startPointInTime(request: PitrRestoreRequest) {
    const { catalog } = this.ctx.runtime;
    const input = parseOrThrow(
      pitrRestoreInput,
      { database: request.database, target: request.pointInTime, to: request.to },
      'point-in-time restore',
    );
    if (request.requireArchiving && !(await catalog.wal.config(request.database)).enabled) {
      throw new HindsightError(
        'bad_input',
        `database "${request.database}" has no point-in-time recovery: turn PITR on first, or restore a backup`,
      );
    }
    await decidePitrTarget(catalog, request.database, input.target);
    const workflowId = pitrRestoreWorkflowId(request.database, new Date());
    const handle = await startRun(this.ctx, pitrRestoreWorkflow, { workflowId, input, database: request.database });
    return { workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
  }
}
