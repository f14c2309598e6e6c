import { addReason, DAY_MS, plural, reasons } from './decisions.ts';
import { gfsKeeps } from './gfs-buckets.ts';
import type { RetentionPolicy } from './policy.ts';

/**
 * What a policy alone keeps among items sorted newest first, and why; the safety rules come after.
 * Logical backups and (through the same policy) base backups are both kept by it.
 */

type Dated = { id: string; finishedAt: Date };

export interface PolicyOutcome {
  keeps: Map<string, string[]>;
  deleteReason: string;
}

export function applyPolicy(policy: RetentionPolicy, sorted: readonly Dated[], now: Date): PolicyOutcome {
  const keeps = new Map<string, string[]>();
  switch (policy.kind) {
    case 'time': {
      const cutoff = now.getTime() - policy.keepDays * DAY_MS;
      const reason = `within the last ${plural(policy.keepDays, 'day', 'days')}`;
      for (const backup of sorted) if (backup.finishedAt.getTime() >= cutoff) addReason(keeps, backup.id, reason);
      return { keeps, deleteReason: `older than ${plural(policy.keepDays, 'one day', 'days')}` };
    }
    case 'count': {
      const reason = policy.keepLast === 1 ? 'the newest backup' : `one of the ${policy.keepLast} newest`;
      for (const backup of sorted.slice(0, policy.keepLast)) addReason(keeps, backup.id, reason);
      return {
        keeps,
        deleteReason: policy.keepLast === 1 ? 'not the newest backup' : `not one of the ${policy.keepLast} newest`,
      };
    }
    case 'gfs':
      return { keeps: gfsKeeps(policy, sorted), deleteReason: reasons.outsideTiers };
  }
}
