import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  continueAsNew,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import {
  baseBackupWorkflow,
  baseBackupWorkflowId,
  chainQuery,
  walChainMonitorInput,
  walChainMonitorWorkflow,
  type BaseBackupInput,
  type ChainMonitorState,
  type GapView,
  type WalChainMonitorInput,
} from '../temporal/contracts/pitr.ts';
import { catalogActivities } from './activity-options.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;

const ROUNDS_PER_HISTORY = 500;
/** With no base backup at all, one is started at most once per this many rounds (a failing one is not retried in a loop). */
const NO_BASE_RETRY_ROUNDS = 10;

const gapKey = (sysid: string | null, g: GapView): string => `${sysid ?? '-'}:${g.timeline}:${g.fromLsn}`;

/**
 * One per PITR database (`walchain/<db>`): at an interval, computes the recoverable windows and
 * gaps from the catalog and what storage really holds. A new gap, or no base backup at all, is
 * notified once and answered with a fresh base backup, from which a new window starts.
 */
export async function walChainMonitor(raw: WalChainMonitorInput): Promise<void> {
  const input = parseInput(walChainMonitorWorkflow.type, walChainMonitorInput, raw);
  const known = new Set(input.knownGaps);
  const state: ChainMonitorState = {
    database: input.database,
    last: null,
    lastError: null,
    rounds: 0,
    baseBackupsStarted: [],
  };
  setHandler(chainQuery, () => state);
  let lastNoBaseRound = -NO_BASE_RETRY_ROUNDS;

  const startBaseBackup = async (reason: string) => {
    const at = new Date().toISOString();
    const workflowId = baseBackupWorkflowId(input.database, at);
    const args: BaseBackupInput = { database: input.database, trigger: 'chain-gap' };
    await startChild(baseBackupWorkflow.type, {
      workflowId,
      args: [args],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    });
    state.baseBackupsStarted = [{ workflowId, reason, at }, ...state.baseBackupsStarted].slice(0, 20);
  };

  for (let round = 0; round < ROUNDS_PER_HISTORY; round++) {
    try {
      const view = await quick.walChain({ database: input.database });
      state.last = view;
      state.lastError = null;
      state.rounds += 1;
      const fresh = view.gaps.filter((g) => !known.has(gapKey(view.systemIdentifier, g)));
      const archiving = view.systemIdentifier !== null;
      const noBase = archiving && view.completeBaseBackups === 0 && view.runningBaseBackups === 0;
      // An increment whose full or an intermediate increment is gone cannot be restored; the next
      // base backup is then a full (the kind is chosen from the same facts when it starts).
      const freshBroken = (view.brokenChains ?? []).filter((b) => !known.has(`chain:${b.id}`));
      if (freshBroken.length > 0) {
        const listed = freshBroken.map((b) => `base backup ${b.id}: ${b.reason}`).join('; ');
        await quick.notify({
          database: input.database,
          event: 'wal_chain_broken',
          message: `incremental base backup chain of database "${input.database}" is broken: ${listed}. Points in time that only these backups covered cannot be restored; a new full base backup is being taken.`,
          dedupeKey: `walchain:${input.database}:chain:${freshBroken.map((b) => b.id).join(',')}`,
        });
        for (const b of freshBroken) known.add(`chain:${b.id}`);
        if (view.runningBaseBackups === 0 && fresh.length === 0) await startBaseBackup(`broken chain: ${listed}`);
      }
      if (fresh.length > 0) {
        const listed = fresh.map((g) => g.text).join('; ');
        await quick.notify({
          database: input.database,
          event: 'wal_chain_broken',
          message: `WAL chain of database "${input.database}" is broken: ${listed}. Points in time inside the gap cannot be restored; a new base backup is being taken so that recovery can start after it.`,
          dedupeKey: `walchain:${input.database}:${fresh.map((g) => gapKey(view.systemIdentifier, g)).join(',')}`,
        });
        for (const g of fresh) known.add(gapKey(view.systemIdentifier, g));
        if (view.runningBaseBackups === 0) await startBaseBackup(`gap: ${listed}`);
      } else if (noBase && round - lastNoBaseRound >= NO_BASE_RETRY_ROUNDS) {
        lastNoBaseRound = round;
        await quick.notify({
          database: input.database,
          event: 'wal_chain_broken',
          message: `database "${input.database}" has WAL archived but no complete base backup: nothing can be restored yet; a base backup is being taken`,
          dedupeKey: `walchain:${input.database}:no-base:${view.systemIdentifier}:${view.checkedAt.slice(0, 13)}`,
        });
        await startBaseBackup('no base backup');
      }
    } catch (error) {
      state.lastError = rootMessage(error);
    }
    await sleep(input.intervalSeconds * 1000);
    if (workflowInfo().continueAsNewSuggested) break;
  }
  await continueAsNew<typeof walChainMonitor>({
    database: input.database,
    intervalSeconds: input.intervalSeconds,
    knownGaps: [...known].slice(-1000),
  });
}
