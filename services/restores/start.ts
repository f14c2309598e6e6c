/**
 * The one way a restore starts, for the console, /api/v1 and the CLI alike: a logical restore of
 * a backup (`restoreBackup`) or a point-in-time restore from the WAL archive (`pitrRestore`).
 * The guard authorizes `restore.start` and audits it; a point in time is checked against the
 * recoverable windows that lib/pitr/window.ts decides — the same decision the workflow's planning
 * activity makes — so a target is refused here, at once, rather than by the workflow.
 */
import { RESTORE_PASSWORD_CONTEXT } from '../../activities/index.ts';
import { seal, unseal } from '../../lib/crypto/sealed.ts';
import { HindsightError } from '../../lib/errors.ts';
import { describeTarget as describeConnection, parsePgUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { refuseFilledTarget } from '../../lib/pitr/extract-database.ts';
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
  /** Create the roles the target lacks (from the backup's roles object) and keep owners and grants. */
  withOwners?: boolean | undefined;
  /** With withOwners: restored roles keep SUPERUSER, REPLICATION and BYPASSRLS. Instance owner only. */
  privilegedRoles?: boolean | undefined;
}

/**
 * A role with SUPERUSER, REPLICATION or BYPASSRLS rules the whole target server (and a role the
 * backup describes is hostile input): only the instance owner may let a restore create one.
 */
export const PRIVILEGED_ROLES_REFUSAL = {
  privilege: 'restore.privilegedRoles',
  reason:
    'restoring roles with SUPERUSER, REPLICATION or BYPASSRLS hands the whole target server to roles a backup describes: only the instance owner may (restore --with-owners without --with-privileged-roles, or ask them)',
} as const;

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
      const to = this.sealedDestination(request.to);
      if ('url' in to && to.privilegedRoles)
        await guard.authz.authorizeInstance(actor, granted.workspaceId, 'restore.start', PRIVILEGED_ROLES_REFUSAL, {
          type: 'database',
          name: request.database,
        });
      return guard.audited(actor, granted, 'restore.start', () => this.startPointInTime({ ...request, to }), {
        after: () => ({ pointInTime: true, to }),
      });
    }
    if (request.privilegedRoles) {
      if (!request.withOwners)
        throw new HindsightError('bad_input', '--with-privileged-roles applies only with --with-owners');
      await guard.authz.authorizeInstance(actor, granted.workspaceId, 'restore.start', PRIVILEGED_ROLES_REFUSAL, {
        type: 'database',
        name: request.database,
      });
    }
    if (request.backupId) {
      const found = await guard.access.backupWorkspace(request.backupId);
      if (!found || !guard.can(actor, found.workspaceId, 'history.read'))
        throw notFound({ type: 'backup', name: request.backupId });
    }
    const to = 'url' in request.to ? { url: request.to.url } : { database: request.to.database };
    return guard.audited(actor, granted, 'restore.start', () => this.startLogical(request), {
      after: (r) => ({
        workflowId: r.workflowId,
        backupId: request.backupId ?? 'newest',
        to,
        ...(request.withOwners ? { withOwners: true, privilegedRoles: request.privilegedRoles === true } : {}),
      }),
    });
  }

  /** Whether a point in time can be restored now: the plan, or the refusal naming the windows. */
  async check(actor: Actor, database: string, target: PitrTarget) {
    await this.ctx.guard.require(actor, { database }, 'history.read');
    return decidePitrTarget(this.ctx.runtime.catalog, database, target);
  }

  /** The password never enters workflow history in clear: it is sealed with the secret key. */
  private sealedUrl(raw: string): { url: string; sealedPassword?: string } {
    const target = parsePgUrl(raw);
    const url = describeConnection(target) + (target.sslmode ? `?sslmode=${target.sslmode}` : '');
    return target.password
      ? { url, sealedPassword: seal(this.ctx.runtime.keyring.current(), target.password, RESTORE_PASSWORD_CONTEXT) }
      : { url };
  }

  /** A point-in-time restore into another server (`to.url`) carries its password sealed, like a logical one. */
  private sealedDestination(to: PitrDestination): PitrDestination {
    if (!('url' in to) || to.sealedPassword) return to;
    return { ...to, ...this.sealedUrl(to.url) };
  }

  /** The target of an extraction with its password unsealed, to look at it before the restore starts. */
  private extractionTarget(to: { url: string; sealedPassword?: string | undefined }): PgTarget {
    const target = parsePgUrl(to.url);
    if (!to.sealedPassword) return target;
    return {
      ...target,
      password: unseal(this.ctx.runtime.keyring.resolve, to.sealedPassword, RESTORE_PASSWORD_CONTEXT),
    };
  }

  private async startLogical(request: LogicalRestoreRequest) {
    const { catalog } = this.ctx.runtime;
    await catalog.getDatabase(request.database);
    const to: RestoreTarget = 'url' in request.to ? this.sealedUrl(request.to.url) : { database: request.to.database };
    const workflowId = restoreWorkflowId(request.database, new Date());
    const owners = request.withOwners ? { withOwners: true, privilegedRoles: request.privilegedRoles === true } : {};
    const input = { database: request.database, backupId: request.backupId, to, ...owners };
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
    if ('url' in request.to) await refuseFilledTarget(this.extractionTarget(request.to));
    const workflowId = pitrRestoreWorkflowId(request.database, new Date());
    const handle = await startRun(this.ctx, pitrRestoreWorkflow, { workflowId, input, database: request.database });
    return { workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
  }
}
