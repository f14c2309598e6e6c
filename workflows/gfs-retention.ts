import { ApplicationFailure, patched, setHandler } from '@temporalio/workflow';
import {
  gfsRetentionInput,
  gfsRetentionWorkflow,
  retentionPlanQuery,
  type GfsRetentionInput,
  type RetentionOutcome,
  type RetentionPlanView,
} from '../temporal/contracts/retention.ts';
import type { RetentionPlan } from '../lib/retention/plan-types.ts';
import { catalogActivities, longActivities } from './activity-options.ts';
import { parseInput } from './validate.ts';

const quick = catalogActivities;

/** Removing a week of WAL from a remote storage is thousands of requests: it heartbeats its progress. */
const archive = longActivities({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 5 },
});

/** Runs begun before retention pruned PITR archives replay without the archive's steps. */
export const PATCH_PITR_ARCHIVE_RETENTION = 'pitr-archive-retention';

function viewOf(plan: RetentionPlan, withArchive: boolean): RetentionPlanView {
  const view: RetentionPlanView = { keep: plan.keep, delete: plan.delete, summary: plan.summary };
  // Only plans made with a per-storage policy carry these, so older runs replay unchanged.
  if (plan.storages !== undefined) view.storages = plan.storages;
  if (plan.deleteCopies !== undefined) view.deleteCopies = plan.deleteCopies;
  if (!withArchive) return view;
  return {
    ...view,
    keepBaseBackups: plan.keepBaseBackups,
    deleteBaseBackups: plan.deleteBaseBackups,
    walCuts: plan.walCuts ?? [],
    deleteHistories: plan.deleteHistories ?? [],
    walRefusal: plan.walRefusal ?? null,
  };
}

/** Copies a storage's own policy lets go while their backup stays on another storage. */
async function deleteCopies(database: string, plan: RetentionPlan, outcome: RetentionOutcome): Promise<void> {
  if (plan.deleteCopies === undefined) return;
  outcome.deletedCopies = [];
  for (const copy of plan.deleteCopies) {
    const result = await quick.deleteBackupCopy({
      database,
      backupId: copy.id,
      storage: copy.storage,
      reason: copy.reason,
    });
    if (result.deleted) outcome.deletedCopies.push({ id: copy.id, storage: copy.storage });
    else outcome.skipped.push({ id: copy.id, why: `copy on ${copy.storage}: ${result.why ?? 'not deleted'}` });
  }
}

async function pruneArchive(database: string, plan: RetentionPlan, outcome: RetentionOutcome): Promise<void> {
  const walCuts = (plan.walCuts ?? []).map((c) => ({ timeline: c.timeline, cutLsn: c.cutLsn }));
  const histories = plan.deleteHistories ?? [];
  const baseBackups = plan.deleteBaseBackups.map((d) => d.id);
  if (baseBackups.length === 0 && walCuts.length === 0 && histories.length === 0) return;
  const pruned = await archive.pruneArchive({ database, baseBackups, walCuts, histories });
  outcome.deletedBaseBackups = pruned.deletedBaseBackups;
  outcome.skippedBaseBackups = pruned.skippedBaseBackups;
  outcome.wal = pruned.wal;
}

/**
 * Prunes a database's backups by its policy (daily schedule `retention/<db>`): the pure planner
 * decides, the `plan` query shows its reasons, then each backup goes from every storage, then the
 * copies a storage's own policy lets go (the backup stays on the others), then the
 * base backups and WAL of the PITR archive that no kept window needs. The planner's safety rules
 * (never the newest verified, never one younger than an hour, never one in use) are checked again
 * for each backup at the moment of deletion. A hole inside a kept PITR window refuses the whole
 * run before anything is deleted.
 */
export async function gfsRetention(raw: GfsRetentionInput): Promise<RetentionOutcome> {
  const input = parseInput(gfsRetentionWorkflow.type, gfsRetentionInput, raw);
  let view: RetentionPlanView | null = null;
  setHandler(retentionPlanQuery, () => view);
  const plan = await quick.planRetentionFor({ database: input.database });
  const withArchive = patched(PATCH_PITR_ARCHIVE_RETENTION);
  view = viewOf(plan, withArchive);
  const outcome: RetentionOutcome = {
    database: input.database,
    dryRun: input.dryRun,
    kept: plan.keep.length,
    deleted: [],
    skipped: [],
    summary: plan.summary,
  };
  if (input.dryRun) return outcome;
  if (withArchive && plan.walRefusal) throw ApplicationFailure.nonRetryable(plan.walRefusal, 'conflict');
  for (const doomed of plan.delete) {
    const result = await quick.deleteBackupEverywhere({
      database: input.database,
      backupId: doomed.id,
      reason: doomed.reason,
    });
    if (result.deleted) outcome.deleted.push(doomed.id);
    else outcome.skipped.push({ id: doomed.id, why: result.why ?? 'not deleted' });
  }
  await deleteCopies(input.database, plan, outcome);
  if (withArchive) await pruneArchive(input.database, plan, outcome);
  return outcome;
}
