/**
 * The service layer by domain. Every method takes the actor first and passes the guard
 * (services/guard.ts), which authorizes it in services/authz.ts and writes the audit log; the
 * console, /api/v1 and the CLI call the same methods (the CLI and `npm start` as the operator
 * or the system actor).
 */
import type { Client } from '@temporalio/client';
import { BackupJobs } from './backups/start.ts';
import { BackupReads } from './backups/read.ts';
import { serviceContext, type ServiceContext } from './context.ts';
import { DatabaseService } from './databases/service.ts';
import { HookService } from './hooks/service.ts';
import { NotifierService } from './notifiers/service.ts';
import { PitrService } from './pitr/service.ts';
import { RestoreDrillService } from './restore-drills/service.ts';
import { RestoreStarter } from './restores/start.ts';
import { RestoreStatusService } from './restores/status.ts';
import { RetentionService } from './retention/service.ts';
import { ServerService } from './servers/service.ts';
import type { Runtime } from './runtime.ts';
import { loadDatabaseStatus } from './status/database-status.ts';
import { JobService } from './status/jobs.ts';
import { StorageService } from './storages/service.ts';
import { VerificationService } from './verifications/service.ts';
import type { Actor } from './authz.ts';

export class StatusService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** Every database the actor may read, with health, backup age, PITR window and problems; problems first. */
  async databases(actor: Actor) {
    const workspaceIds = await this.ctx.guard.authz.workspacesAllowing(actor, 'history.read');
    return loadDatabaseStatus(this.ctx.runtime.catalog, { workspaceIds });
  }
}

export function createServices(runtime: Runtime, temporal: Client) {
  const ctx = serviceContext(runtime, temporal);
  return {
    ctx,
    databases: new DatabaseService(ctx),
    storages: new StorageService(ctx),
    backups: new BackupJobs(ctx),
    backupReads: new BackupReads(ctx),
    jobs: new JobService(ctx),
    restores: new RestoreStarter(ctx),
    restoreStatus: new RestoreStatusService(ctx),
    pitr: new PitrService(ctx),
    verifications: new VerificationService(ctx),
    restoreDrills: new RestoreDrillService(ctx),
    retention: new RetentionService(ctx),
    notifiers: new NotifierService(ctx),
    hooks: new HookService(ctx),
    status: new StatusService(ctx),
    servers: new ServerService(ctx),
  };
}

export type Services = ReturnType<typeof createServices>;
