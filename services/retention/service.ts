/** GFS retention: the saved policy and its daily schedule, the dry run, and a run now. */
import type { DatabaseRecord } from '../../lib/catalog/catalog.ts';
import { planForDatabase } from '../../lib/retention/plan-for-database.ts';
import { parseRetentionPolicy } from '../../lib/retention/policy.ts';
import { gfsRetentionWorkflow, retentionWorkflowId } from '../../temporal/contracts/retention.ts';
import { RETENTION_CRON, setDatabaseCron } from '../../temporal/schedules.ts';
import { startRun } from '../../temporal/start.ts';
import type { Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { changeDatabase } from '../databases/change.ts';

const policyOf = (d: DatabaseRecord) => ({ retentionPolicy: d.retentionPolicy });

export class RetentionService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** The daily schedule runs while the database or any of its storages has a policy. */
  private async scheduleFor(database: string, databasePolicy: unknown): Promise<void> {
    const { catalog } = this.ctx.runtime;
    const db = await catalog.getDatabase(database);
    const storages = await catalog.storageRetentionOf(database);
    const any = databasePolicy !== null || storages.some((s) => s.retentionPolicy !== null);
    await setDatabaseCron(this.ctx, 'retention', database, any ? RETENTION_CRON : null, db.timezone);
  }

  /** Saves a retention policy (validated) and its daily schedule; null removes both. */
  async setPolicy(actor: Actor, database: string, raw: unknown) {
    const { catalog } = this.ctx.runtime;
    const save = async () => {
      const policy = raw === null ? null : parseRetentionPolicy(raw);
      await this.scheduleFor(database, policy);
      return catalog.updateDatabaseSettings(database, { retentionPolicy: policy });
    };
    return changeDatabase(this.ctx, actor, database, 'retention.save', save, { before: policyOf, after: policyOf });
  }

  /**
   * Saves the policy of one storage the database's backups go to, applied to the copies on it;
   * null makes the storage follow the database's policy again.
   */
  async setStoragePolicy(actor: Actor, database: string, storage: string, raw: unknown) {
    const { catalog } = this.ctx.runtime;
    const save = async () => {
      const policy = raw === null ? null : parseRetentionPolicy(raw);
      await catalog.setStorageRetention(database, storage, policy);
      await this.scheduleFor(database, (await catalog.getDatabase(database)).retentionPolicy);
      return { database, storage, retentionPolicy: policy };
    };
    const before = async () => ({ storages: await catalog.storageRetentionOf(database) });
    return this.ctx.guard.run(actor, { database }, 'retention.save', save, {
      before: await before().catch(() => undefined),
      after: (r) => r,
    });
  }

  /** Each storage the database's backups go to, with its own policy (null: it follows the database's). */
  storagePolicies(actor: Actor, database: string) {
    return this.ctx.guard.run(actor, { database }, 'history.read', () =>
      this.ctx.runtime.catalog.storageRetentionOf(database),
    );
  }

  /**
   * The dry run: what the policies (saved, or the one given) would keep and delete now, and why.
   * With `storage`, the policy given is tried for that storage (null: it follows the database's).
   */
  plan(actor: Actor, database: string, policy?: unknown, storage?: string) {
    return this.ctx.guard.run(actor, { database }, 'history.read', async () => {
      // The archive's facts (every WAL segment) stay here: the plan already says what they decide.
      const { catalog } = this.ctx.runtime;
      const { policy: parsed, plan } = await planForDatabase(
        catalog,
        database,
        await catalog.catalogClock(),
        policy,
        storage,
      );
      return { policy: parsed, plan };
    });
  }

  /** Runs retention now as a workflow (the same as the daily schedule); a dry run is a read. */
  async start(actor: Actor, database: string, options: { dryRun?: boolean } = {}) {
    return this.ctx.guard.run(
      actor,
      { database },
      options.dryRun ? 'history.read' : 'retention.run',
      async () => {
        const workflowId = retentionWorkflowId(database, new Date());
        const input = { database, dryRun: options.dryRun ?? false };
        const handle = await startRun(this.ctx, gfsRetentionWorkflow, { workflowId, input, database });
        return { workflowId, result: () => handle.result() };
      },
      { after: (r) => ({ workflowId: r.workflowId }) },
    );
  }
}
