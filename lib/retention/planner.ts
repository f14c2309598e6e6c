import { HindsightError } from '../errors.ts';
import { gfsTiers, parseRetentionPolicy, type RetentionPolicy } from './policy.ts';
import { addReason, checkInput, HOUR_MS, lockedReason, newestFirst, plural, reasons, split } from './decisions.ts';
import { applyPolicy } from './policy-keeps.ts';
import { planPitr, type BaseBackupPlan } from './pitr-plan.ts';
import { planWal, type WalPlan } from './wal-plan.ts';
import type { DeleteDecision, KeepDecision, PlannedBackup, RetentionInput, RetentionPlan } from './plan-types.ts';

/**
 * Decides which backups, base backups and WAL a retention run removes. Pure: the caller gathers the
 * facts (catalog rows, verifications, in-flight jobs) and carries out the plan, so every rule here
 * can be tested exhaustively without storage or a database.
 */

export type * from './plan-types.ts';
export { newestFirst, reasons } from './decisions.ts';
export { bucketKey, bucketKeyOf, gfsKeeps, isoWeek, localFields, tierReason, type LocalFields } from './gfs-buckets.ts';
export { compareLsn, formatLsn, isWalSegmentBefore, parseLsn } from './wal-position.ts';

export function describePolicy(policy: RetentionPolicy): string {
  switch (policy.kind) {
    case 'time':
      return `keep ${plural(policy.keepDays, 'one day', 'days')}`;
    case 'count':
      return policy.keepLast === 1 ? 'keep the newest' : `keep the ${policy.keepLast} newest`;
    case 'gfs': {
      const tiers = gfsTiers.filter((tier) => (policy[tier] ?? 0) > 0).map((tier) => `${tier} ${policy[tier]}`);
      return `gfs ${tiers.join(', ')} (${policy.timezone})`;
    }
  }
}

function planBackups(
  policy: RetentionPolicy,
  backups: readonly PlannedBackup[],
  now: Date,
): { keep: KeepDecision[]; delete: DeleteDecision[] } {
  const sorted = [...backups].sort(newestFirst);
  const { keeps, deleteReason } = applyPolicy(policy, sorted, now);
  const policyKeptAny = keeps.size > 0;

  // The safety rules come after the policy so that they can only add to what is kept.
  for (const backup of sorted) {
    if (now.getTime() - backup.finishedAt.getTime() < HOUR_MS) addReason(keeps, backup.id, reasons.young);
    if (backup.inUse) addReason(keeps, backup.id, reasons.inUse);
    // The storage would refuse the delete: kept, and deleted by the first run after the date.
    if (backup.lockedUntil && backup.lockedUntil.getTime() > now.getTime()) {
      addReason(keeps, backup.id, lockedReason(backup.lockedUntil));
    }
  }
  const newestVerified = sorted.find((backup) => backup.verified);
  if (newestVerified !== undefined) addReason(keeps, newestVerified.id, reasons.newestVerified);
  if (!policyKeptAny && sorted[0] !== undefined) addReason(keeps, sorted[0].id, reasons.lastStanding);

  return split(sorted, keeps, deleteReason);
}

function describeWal(wal: WalPlan): string {
  if (wal.walRefusal !== null) return `WAL retention refused: ${wal.walRefusal}`;
  if (wal.walCuts.length === 0) return 'no WAL to delete';
  return wal.walCuts
    .map(
      (c) =>
        `delete ${plural(c.segments, 'one WAL segment', 'WAL segments')} before ${c.cutLsn} (timeline ${c.timeline})`,
    )
    .join('; ');
}

function summarize(
  policy: RetentionPolicy,
  backups: { keep: KeepDecision[]; delete: DeleteDecision[] },
  pitr: BaseBackupPlan | null,
  wal: WalPlan,
): string {
  const total = backups.keep.length + backups.delete.length;
  const parts = [
    `${describePolicy(policy)}: keep ${backups.keep.length} of ${total} backups, delete ${backups.delete.length}`,
  ];
  if (pitr !== null) {
    const bases = pitr.keep.length + pitr.delete.length;
    parts.push(`keep ${pitr.keep.length} of ${bases} base backups, delete ${pitr.delete.length}`);
    parts.push(describeWal(wal));
  }
  return parts.join('; ');
}

/** Plans one retention run. Throws a bad_input HindsightError on an invalid policy or input. */
export function planRetention(input: RetentionInput): RetentionPlan {
  if (Number.isNaN(input.now.getTime())) throw new HindsightError('bad_input', 'now is not a valid time');
  const policy = parseRetentionPolicy(input.policy);
  checkInput(input.backups, 'backup');

  const backups = planBackups(policy, input.backups, input.now);
  const pitr =
    input.pitr === undefined ? null : planPitr(input.pitr, input.now, input.pitr.byPolicy ? policy : undefined);
  const wal: WalPlan =
    pitr === null ? { walCuts: [], deleteHistories: [], walRefusal: null } : planWal(input.pitr!, pitr);
  return {
    keep: backups.keep,
    delete: backups.delete,
    keepBaseBackups: pitr?.keep ?? [],
    deleteBaseBackups: pitr?.delete ?? [],
    deleteWalBefore: wal.walRefusal === null ? (pitr?.deleteWalBefore ?? null) : null,
    ...wal,
    summary: summarize(policy, backups, pitr, wal),
  };
}
