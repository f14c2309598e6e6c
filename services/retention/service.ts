/** GFS retention: the saved policy and its daily schedule, the dry run, and a run now. */
import { planForDatabase } from '../../lib/retention/plan-for-database.ts';
import { parseRetentionPolicy } from '../../lib/retention/policy.ts';
import { gfsRetentionWorkflow, retentionWorkflowId } from '../../temporal/contracts/retention.ts';
import { deleteRetentionSchedule, upsertRetentionSchedule } from '../../temporal/schedules.ts';
import { startJob } from '../../temporal/start.ts';
import type { Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';

export class RetentionService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** Saves a retention policy (validated) and its daily schedule; null removes both. */
  async setPolicy(actor: Actor, database: string, raw: unknown) {
    const {
      temporal,
      runtime: { catalog, config },
    } = this.ctx;
    const before = await catalog.getDatabase(database).then(
      (d) => ({ retentionPolicy: d.retentionPolicy }),
      () => undefined,
    );
    return this.ctx.guard.run(
      actor,
      { database },
      'retention.save',
      async () => {
        const db = await catalog.getDatabase(database);
        if (raw === null) {
          await deleteRetentionSchedule(temporal, database);
          return catalog.updateDatabaseSettings(database, { retentionPolicy: null });
        }
        const policy = parseRetentionPolicy(raw);
        await upsertRetentionSchedule(temporal, { database, timezone: db.timezone, taskQueue: config.taskQueue });
        return catalog.updateDatabaseSettings(database, { retentionPolicy: policy });
      },
      { before, after: (record) => ({ retentionPolicy: record.retentionPolicy }) },
    );
  }

  /** The dry run: what the policy (saved, or the one given) would keep and delete now, and why. */
  plan(actor: Actor, database: string, policy?: unknown) {
    return this.ctx.guard.run(actor, { database }, 'history.read', () =>
      planForDatabase(this.ctx.runtime.catalog, database, new Date(), policy),
    );
  }

  /** Runs retention now as a workflow (the same as the daily schedule); a dry run is a read. */
  async start(actor: Actor, database: string, options: { dryRun?: boolean } = {}) {
    const {
      temporal,
      runtime: { config },
    } = this.ctx;
    return this.ctx.guard.run(
      actor,
      { database },
      options.dryRun ? 'history.read' : 'retention.run',
      async () => {
        const workflowId = retentionWorkflowId(database, new Date());
        const handle = await startJob(temporal, gfsRetentionWorkflow, {
          workflowId,
          taskQueue: config.taskQueue,
          input: { database, dryRun: options.dryRun ?? false },
          database,
          onConflict: 'fail',
        });
        return { workflowId, result: () => handle.result() };
      },
      { after: (r) => ({ workflowId: r.workflowId }) },
    );
  }
}
