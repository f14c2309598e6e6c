import type { BaseBackupPlan } from './pitr-plan.ts';
import type { PitrFacts, WalTimelineCut } from './plan-types.ts';
import { doomedHistories, lineageOf, walCuts, walNeeds } from './wal-cuts.ts';
import { findWalHole } from './wal-gaps.ts';

/** The WAL half of a PITR plan: per-timeline cuts, history files that go, or a refusal. */
export interface WalPlan {
  walCuts: WalTimelineCut[];
  deleteHistories: number[];
  walRefusal: string | null;
}

export function planWal(pitr: PitrFacts, bases: BaseBackupPlan): WalPlan {
  const histories = pitr.histories ?? [];
  const lineage = lineageOf(histories);
  if (pitr.segmentSize !== undefined) {
    const hole = findWalHole(bases.restoredFrom, pitr.walSegments, lineage, pitr.segmentSize);
    if (hole !== null) return { walCuts: [], deleteHistories: [], walRefusal: hole };
  }
  // With no base backup kept there is no window to protect, and nothing to measure a cut from.
  if (bases.restoredFrom.length === 0) return { walCuts: [], deleteHistories: [], walRefusal: null };
  const cuts = walCuts(pitr.walSegments, walNeeds(bases.restoredFrom, pitr.walSegments, lineage));
  return {
    walCuts: cuts,
    deleteHistories: doomedHistories(histories, lineage, bases.kept, pitr.walSegments, cuts),
    walRefusal: null,
  };
}
