import { HindsightError } from '../errors.ts';
import { addReason, checkInput, DAY_MS, newestFirst, reasons, split } from './decisions.ts';
import type { DeleteDecision, KeepDecision, PitrFacts, PlannedBaseBackup, WalCut } from './plan-types.ts';
import { compareLsn, isWalSegmentBefore, parseLsn } from './wal-position.ts';
import type { RetentionPolicy } from './policy.ts';
import { applyPolicy } from './policy-keeps.ts';

/** The point-in-time-recovery half of a plan: base backups the window needs and the WAL before them. */

export interface BaseBackupPlan {
  keep: KeepDecision[];
  delete: DeleteDecision[];
  deleteWalBefore: WalCut | null;
  /** Kept base backups recovery replays WAL from (kept for their own sake, not as ancestors). */
  restoredFrom: PlannedBaseBackup[];
  /** Every kept base backup, ancestors included. */
  kept: PlannedBaseBackup[];
}

/**
 * An incremental base backup is restored by combining it with its full and every increment
 * between: each ancestor of a kept base backup is kept too, whatever its age. A parent that is not
 * among the base backups given (already deleted) adds nothing: that chain is broken, and the chain
 * monitor reports it.
 */
function keepAncestors(bases: PlannedBaseBackup[], keeps: Map<string, string[]>): void {
  const byId = new Map(bases.map((base) => [base.id, base]));
  for (const id of [...keeps.keys()]) {
    const seen = new Set<string>([id]);
    let parentId = byId.get(id)?.parentId ?? null;
    while (parentId !== null && byId.has(parentId) && !seen.has(parentId)) {
      seen.add(parentId);
      addReason(keeps, parentId, `needed to restore incremental base backup ${id}`);
      parentId = byId.get(parentId)!.parentId ?? null;
    }
  }
}

/**
 * With `policy`, the policy that keeps logical backups also keeps base backups (the same tiers,
 * counted over base backups by their finish time); the window, in-use and ancestor rules add to it.
 */
export function planPitr(pitr: PitrFacts, now: Date, policy?: RetentionPolicy): BaseBackupPlan {
  if (!Number.isFinite(pitr.windowDays) || pitr.windowDays < 0) {
    throw new HindsightError('bad_input', `the PITR window must be 0 days or more, not ${pitr.windowDays}`);
  }
  checkInput(pitr.baseBackups, 'base backup');
  for (const base of pitr.baseBackups) parseLsn(base.startLsn);
  for (const segment of pitr.walSegments) {
    parseLsn(segment.startLsn);
    parseLsn(segment.endLsn);
  }

  const sorted = [...pitr.baseBackups].sort(newestFirst);
  const windowStart = now.getTime() - pitr.windowDays * DAY_MS;
  // Recovery to a moment replays from the newest base backup finished at or before it, so the
  // window needs the newest one before its start and everything after. Without one, all are needed.
  const anchor = sorted.findIndex((base) => base.finishedAt.getTime() <= windowStart);
  const windowReason = `needed for the ${pitr.windowDays}-day PITR window`;
  const byPolicy = policy === undefined ? null : applyPolicy(policy, sorted, now);
  const keeps = byPolicy?.keeps ?? new Map<string, string[]>();
  sorted.forEach((base, index) => {
    if (anchor === -1 || index <= anchor) addReason(keeps, base.id, windowReason);
    if (base.inUse) addReason(keeps, base.id, reasons.inUse);
  });
  // Recovery replays WAL from the backups kept for their own sake; their ancestors only lend pages.
  const restoredFrom = new Set(keeps.keys());
  keepAncestors(sorted, keeps);
  const windowDelete = `older than the ${pitr.windowDays}-day PITR window needs`;
  const deleteReason = byPolicy === null ? windowDelete : `${byPolicy.deleteReason}, and ${windowDelete}`;
  const { keep, delete: remove } = split(sorted, keeps, deleteReason);
  const decided = {
    keep,
    delete: remove,
    restoredFrom: sorted.filter((base) => restoredFrom.has(base.id)),
    kept: sorted.filter((base) => keeps.has(base.id)),
  };

  // The earliest WAL position any kept base backup replays from; everything before it is history.
  let oldest: PlannedBaseBackup | undefined;
  for (const base of sorted) {
    if (!restoredFrom.has(base.id)) continue;
    if (oldest === undefined) {
      oldest = base;
      continue;
    }
    const order = compareLsn(base.startLsn, oldest.startLsn);
    if (order < 0 || (order === 0 && base.timeline < oldest.timeline)) oldest = base;
  }
  if (oldest === undefined) return { ...decided, deleteWalBefore: null };
  const cut: WalCut = { timeline: oldest.timeline, lsn: oldest.startLsn };
  // Null tells the caller there is nothing to list or remove in the WAL archive.
  const anyToDelete = pitr.walSegments.some((segment) => isWalSegmentBefore(segment, cut));
  return { ...decided, deleteWalBefore: anyToDelete ? cut : null };
}
