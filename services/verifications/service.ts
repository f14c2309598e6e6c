/**
 * Verification: asking a database's verifier to prove a backup, its reports, and its own schedule.
 * The verifier is signalled with start through temporal/start.ts (`signalVerifier`).
 */
import { randomBytes } from 'node:crypto';
import { refuseUnrestorable } from '../../lib/backup/restore-policy.ts';
import type { DatabaseRecord } from '../../lib/catalog/catalog.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { VerificationSummary } from '../../lib/verify/report.ts';
import { newVerificationId, verifierWorkflowId } from '../../temporal/contracts/verify.ts';
import { setDatabaseCron } from '../../temporal/schedules.ts';
import { signalVerifier } from '../../temporal/start.ts';
import { notFound, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { changeDatabase } from '../databases/change.ts';
import { cronSchema, parseOrThrow } from '../input.ts';

const verifyScheduleOf = (d: DatabaseRecord) => ({ verifySchedule: d.verifySchedule });

export interface VerificationRequest {
  backupId?: string | undefined;
  trigger?: 'manual' | 'schedule';
}

export class VerificationService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /**
   * Asks the database's verifier to prove a backup (the newest restorable one when none is named)
   * and returns its verification id; `finished()` waits for the report.
   */
  async request(actor: Actor, database: string, options: VerificationRequest = {}) {
    const { guard } = this.ctx;
    const granted = await guard.require(actor, { database }, 'verification.start');
    if (options.backupId) {
      const found = await guard.access.backupWorkspace(options.backupId);
      if (!found || !guard.can(actor, found.workspaceId, 'history.read'))
        throw notFound({ type: 'backup', name: options.backupId });
    }
    return guard.audited(actor, granted, 'verification.start', () => this.signal(database, options), {
      after: (r) => ({ verificationId: r.verificationId, backupId: r.backupId }),
    });
  }

  list(actor: Actor, database: string) {
    return this.ctx.guard.run(actor, { database }, 'history.read', () =>
      this.ctx.runtime.catalog.verifications.list(database),
    );
  }

  /** The newest verification of each of these backups of the database, whatever its status. */
  newestOf(actor: Actor, database: string, backupIds: string[]) {
    return this.ctx.guard.run(actor, { database }, 'history.read', async () => {
      const newest = await this.ctx.runtime.catalog.verifications.newestFor(backupIds);
      // The ids come from the caller: only the database's own verifications are its to read.
      return new Map([...newest].filter(([, v]) => v.database === database));
    });
  }

  /** Waits for a verification the actor may read to end, and returns its report. */
  async finished(actor: Actor, id: string, timeoutMs?: number) {
    await this.get(actor, id);
    return untilFinished(() => this.ctx.runtime.catalog.verifications.get(id), timeoutMs);
  }

  async get(actor: Actor, id: string) {
    const {
      guard,
      runtime: { catalog },
    } = this.ctx;
    const summary = await catalog.verifications.get(id);
    const workspaceId = await guard.access.databaseWorkspace(summary.database);
    if (workspaceId === undefined || !guard.can(actor, workspaceId, 'history.read'))
      throw new HindsightError('not_found', `verification "${id}" does not exist`);
    return summary;
  }

  /** Verifies the newest backup on a cron of its own (null: only after each backup). */
  async setSchedule(actor: Actor, database: string, cron: string | null) {
    const { catalog } = this.ctx.runtime;
    const save = async () => {
      const db = await catalog.getDatabase(database);
      const schedule = cron === null ? null : parseOrThrow(cronSchema, cron, 'verification schedule');
      await setDatabaseCron(this.ctx, 'verification', database, schedule, db.timezone);
      return catalog.updateDatabaseSettings(database, { verifySchedule: schedule });
    };
    return changeDatabase(this.ctx, actor, database, 'database.schedule', save, {
      before: verifyScheduleOf,
      after: verifyScheduleOf,
    });
  }

  private async signal(database: string, options: VerificationRequest) {
    const {
      temporal,
      runtime: { catalog, config },
    } = this.ctx;
    const backup = options.backupId
      ? await catalog.getBackup(options.backupId)
      : await catalog.latestCompleteBackup(database);
    refuseUnrestorable(database, backup, 'verified');
    const verificationId = newVerificationId(new Date(), randomBytes(3).toString('hex'));
    const trigger = options.trigger ?? 'manual';
    await catalog.verifications.request({ id: verificationId, database, backupId: backup.id, trigger });
    await signalVerifier(temporal, config.taskQueue, database, { verificationId, backupId: backup.id, trigger });
    const finished = (timeoutMs?: number) => untilFinished(() => catalog.verifications.get(verificationId), timeoutMs);
    return { verificationId, backupId: backup.id, workflowId: verifierWorkflowId(database), finished };
  }
}

/** Reads a verification until it is no longer pending or running. */
async function untilFinished(read: () => Promise<VerificationSummary>, timeoutMs = 24 * 3600_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const summary = await read();
    if (!['pending', 'running'].includes(summary.status)) return summary;
    if (Date.now() > deadline) {
      throw new HindsightError(
        'busy',
        `verification ${summary.id} is still ${summary.status} after ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
