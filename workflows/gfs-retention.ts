import { setHandler } from '@temporalio/workflow';
import {
  gfsRetentionInput,
  gfsRetentionWorkflow,
  retentionPlanQuery,
  type GfsRetentionInput,
  type RetentionOutcome,
  type RetentionPlanView,
} from '../temporal/contracts/retention.ts';
import { catalogActivities } from './activity-options.ts';
import { parseInput } from './validate.ts';

const quick = catalogActivities;

/**
 * Prunes a database's backups by its policy (daily schedule `retention/<db>`): the pure planner
 * decides, the `plan` query shows its reasons, then each backup goes from every storage. The
 * planner's safety rules (never the newest verified, never one younger than an hour, never one
 * in use) are checked again for each backup at the moment of deletion.
 */
export async function gfsRetention(raw: GfsRetentionInput): Promise<RetentionOutcome> {
  const input = parseInput(gfsRetentionWorkflow.type, gfsRetentionInput, raw);
  let view: RetentionPlanView | null = null;
  setHandler(retentionPlanQuery, () => view);
  const plan = await quick.planRetentionFor({ database: input.database });
  view = { keep: plan.keep, delete: plan.delete, summary: plan.summary };
  const outcome: RetentionOutcome = {
    database: input.database,
    dryRun: input.dryRun,
    kept: plan.keep.length,
    deleted: [],
    skipped: [],
    summary: plan.summary,
  };
  if (input.dryRun) return outcome;
  for (const doomed of plan.delete) {
    const result = await quick.deleteBackupEverywhere({
      database: input.database,
      backupId: doomed.id,
      reason: doomed.reason,
    });
    if (result.deleted) outcome.deleted.push(doomed.id);
    else outcome.skipped.push({ id: doomed.id, why: result.why ?? 'not deleted' });
  }
  return outcome;
}
