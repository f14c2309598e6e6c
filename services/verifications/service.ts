/**
 * Verification: asking a database's verifier to prove a backup, its reports, and its own schedule.
 * The verifier is signalled with start through temporal/start.ts (`signalVerifier`).
 */
import { randomBytes } from 'node:crypto';
import { HindsightError } from '../../lib/errors.ts';
import { newVerificationId, verifierWorkflowId } from '../../temporal/contracts/verify.ts';
import { deleteVerifySchedule, upsertVerifySchedule } from '../../temporal/schedules.ts';
import { signalVerifier } from '../../temporal/start.ts';
import { notFound, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { cronSchema, parseOrThrow } from '../input.ts';

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
    const {
      temporal,
      runtime: { catalog, config },
    } = this.ctx;
    const before = await catalog.getDatabase(database).then(
      (d) => ({ verifySchedule: d.verifySchedule }),
      () => undefined,
    );
    return this.ctx.guard.run(
      actor,
      { database },
      'database.schedule',
      async () => {
        const db = await catalog.getDatabase(database);
        const schedule = cron === null ? null : parseOrThrow(cronSchema, cron, 'verification schedule');
        if (schedule)
          await upsertVerifySchedule(temporal, {
            database,
            cron: schedule,
            timezone: db.timezone,
            taskQueue: config.taskQueue,
          });
        else await deleteVerifySchedule(temporal, database);
        return catalog.updateDatabaseSettings(database, { verifySchedule: schedule });
      },
      { before, after: (record) => ({ verifySchedule: record.verifySchedule }) },
    );
  }

  private async signal(database: string, options: VerificationRequest) {
    const {
      temporal,
      runtime: { catalog, config },
    } = this.ctx;
    const backup = options.backupId
      ? await catalog.getBackup(options.backupId)
      : await catalog.latestCompleteBackup(database);
    if (backup.databaseName !== database) {
      throw new HindsightError(
        'bad_input',
        `backup ${backup.id} belongs to database "${backup.databaseName}", not "${database}"`,
      );
    }
    if (backup.status !== 'complete' && backup.status !== 'partial') {
      throw new HindsightError(
        'bad_input',
        `backup ${backup.id} is ${backup.status}: only a complete or partial backup can be verified`,
      );
    }
    const verificationId = newVerificationId(new Date(), randomBytes(3).toString('hex'));
    const trigger = options.trigger ?? 'manual';
    await catalog.verifications.request({ id: verificationId, database, backupId: backup.id, trigger });
    await signalVerifier(temporal, config.taskQueue, database, { verificationId, backupId: backup.id, trigger });
    const finished = async (timeoutMs = 24 * 3600_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const summary = await catalog.verifications.get(verificationId);
        if (!['pending', 'running'].includes(summary.status)) return summary;
        if (Date.now() > deadline) {
          throw new HindsightError(
            'busy',
            `verification ${verificationId} is still ${summary.status} after ${Math.round(timeoutMs / 1000)} s`,
          );
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    return { verificationId, backupId: backup.id, workflowId: verifierWorkflowId(database), finished };
  }
}
