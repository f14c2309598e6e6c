import { isCancellation } from '@temporalio/workflow';
import type { HookRunsOutcome, RunHooksInput } from '../activities/hooks.ts';
import { catalogActivities, longActivities } from './activity-options.ts';
import { rootMessage } from './validate.ts';

/** Hook scripts in backupDatabase and restoreBackup; runs begun before them replay without. */
export const PATCH_HOOK_SCRIPTS = 'hook-scripts';

/** Per script, beyond its own timeout: TERM-then-KILL grace, catalog writes, start-up. */
const SLACK_SECONDS_PER_HOOK = 30;

/**
 * Runs a job's hook scripts of one kind. The activity's timeout is the scripts' own timeouts
 * added up (each script is killed at its own); a worker that dies is noticed by the heartbeat
 * within 30 s. A script may not be idempotent, so a run is retried at most once, and only when
 * the worker was lost: a script's non-zero exit is a result, never retried.
 */
export async function runHookStage(input: RunHooksInput): Promise<HookRunsOutcome> {
  const plan = await catalogActivities.hookPlan({ database: input.database, kind: input.kind });
  if (plan.count === 0) return { ran: 0, failures: [] };
  const hooks = longActivities({
    startToCloseTimeout: `${plan.timeoutSeconds + SLACK_SECONDS_PER_HOOK * plan.count} seconds`,
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', maximumAttempts: 2 },
  });
  return hooks.runHooks(input);
}

/**
 * Runs the hooks that follow a job's work (post_backup, post_restore): the job stands whatever
 * they do, so a failing script, or hooks that could not run at all, become warnings on it.
 */
export async function hookWarnings(input: RunHooksInput): Promise<string[]> {
  try {
    return (await runHookStage(input)).failures.map((f) => f.message);
  } catch (error) {
    if (isCancellation(error)) throw error;
    return [`${input.kind} hooks could not run: ${rootMessage(error)}`];
  }
}
