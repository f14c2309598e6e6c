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

  /** Saves a retention policy (validated) and its daily schedule; null removes both. */
  async setPolicy(actor: Actor, database: string, raw: unknown) {
    const { catalog } = this.ctx.runtime;
    const save = async () => {
      const db = await catalog.getDatabase(database);
      const policy = raw === null ? null : parseRetentionPolicy(raw);
      await setDatabaseCron(this.ctx, 'retention', database, policy === null ? null : RETENTION_CRON, db.timezone);
      return catalog.updateDatabaseSettings(database, { retentionPolicy: policy });
    };
    return changeDatabase(this.ctx, actor, database, 'retention.save', save, { before: policyOf, after: policyOf });
  }

  /** The dry run: what the policy (saved, or the one given) would keep and delete now, and why. */
  plan(actor: Actor, database: string, policy?: unknown) {
    return this.ctx.guard.run(actor, { database }, 'history.read', async () => {
      // The archive's facts (every WAL segment) stay here: the plan already says what they decide.
      const { policy: parsed, plan } = await planForDatabase(this.ctx.runtime.catalog, database, new Date(), policy);
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
