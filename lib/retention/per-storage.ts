import { lockedUntilAfter } from '../storage/locked.ts';
import { planRetention } from './planner.ts';
import type { RetentionPolicyInput } from './policy.ts';
import type {
  CopyDeleteDecision,
  DeleteDecision,
  KeepDecision,
  PlannedBackup,
  RetentionPlan,
  StoragePlan,
} from './plan-types.ts';

/**
 * Per-storage retention: a storage with its own policy is planned over the copies it holds, with the
 * planner's safety rules (newest verified, younger than an hour, in use, last standing) applied to
 * those copies alone; a storage without one follows the database's plan. A backup goes as a whole
 * only when every storage holding it lets its copy go; otherwise it loses only those copies and
 * stays restorable from the others. Pure, like the planner.
 */

/** One storage of the database: its override (null follows the database) and the backups it holds whole. */
export interface StorageCopies {
  storage: string;
  policy: RetentionPolicyInput | null;
  backupIds: readonly string[];
  /** Days this storage locks each object (S3 Object Lock); absent or 0 when it does not. */
  lockDays?: number;
}

export interface PerStorageInput {
  now: Date;
  backups: readonly PlannedBackup[];
  storages: readonly StorageCopies[];
  /** The database's plan over every backup; null when the database has no policy (it keeps all). */
  databasePlan: RetentionPlan | null;
}

export interface PerStoragePlan {
  keep: KeepDecision[];
  delete: DeleteDecision[];
  deleteCopies: CopyDeleteDecision[];
  storages: StoragePlan[];
}

const noPolicyReason = 'the database has no retention policy';

function followDatabase(storage: StorageCopies, databasePlan: RetentionPlan | null): StoragePlan {
  const held = new Set(storage.backupIds);
  const keep = databasePlan
    ? databasePlan.keep.filter((k) => held.has(k.id))
    : storage.backupIds.map((id) => ({ id, reasons: [noPolicyReason] }));
  const doomed = databasePlan ? databasePlan.delete.filter((d) => held.has(d.id)) : [];
  const summary = `follows the database: keep ${keep.length} of ${held.size} copies, delete ${doomed.length}`;
  return { storage: storage.storage, policy: null, keep, delete: doomed, summary };
}

function planStorage(now: Date, backups: readonly PlannedBackup[], storage: StorageCopies): StoragePlan {
  const held = new Set(storage.backupIds);
  // Only this storage's lock holds its copies; another storage's lock is no reason to keep them here.
  const copies = backups
    .filter((b) => held.has(b.id))
    .map(({ lockedUntil: _elsewhere, ...b }) => {
      const until = lockedUntilAfter(b.finishedAt, storage.lockDays ?? 0);
      return until ? { ...b, lockedUntil: until } : b;
    });
  const plan = planRetention({ now, policy: storage.policy!, backups: copies });
  const summary = plan.summary.replace(/ backups, /, ' copies, ');
  return { storage: storage.storage, policy: storage.policy, keep: plan.keep, delete: plan.delete, summary };
}

/** How the database decides about a backup no storage holds whole (nothing to plan per storage). */
function databaseDecision(id: string, databasePlan: RetentionPlan | null): DeleteDecision | KeepDecision {
  const doomed = databasePlan?.delete.find((d) => d.id === id);
  if (doomed) return doomed;
  return databasePlan?.keep.find((k) => k.id === id) ?? { id, reasons: [noPolicyReason] };
}

export function planPerStorage(input: PerStorageInput): PerStoragePlan {
  const storages = input.storages.map((s) =>
    s.policy === null ? followDatabase(s, input.databasePlan) : planStorage(input.now, input.backups, s),
  );
  const result: PerStoragePlan = { keep: [], delete: [], deleteCopies: [], storages };
  for (const backup of input.backups) {
    const keeps = storages.flatMap((s) => s.keep.filter((k) => k.id === backup.id).map((k) => ({ s, k })));
    const drops = storages.flatMap((s) => s.delete.filter((d) => d.id === backup.id).map((d) => ({ s, d })));
    if (keeps.length === 0 && drops.length === 0) {
      const decision = databaseDecision(backup.id, input.databasePlan);
      if ('reason' in decision) result.delete.push(decision);
      else result.keep.push(decision);
    } else if (keeps.length === 0) {
      const reason = drops.map(({ s, d }) => `${s.storage}: ${d.reason}`).join('; ');
      result.delete.push({ id: backup.id, reason });
    } else {
      result.keep.push({ id: backup.id, reasons: keeps.map(({ s, k }) => `${s.storage}: ${k.reasons.join(', ')}`) });
      for (const { s, d } of drops) result.deleteCopies.push({ id: backup.id, storage: s.storage, reason: d.reason });
    }
  }
  return result;
}
