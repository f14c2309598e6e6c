import { segmentName } from '../wal/lsn.ts';
import type { PlannedBaseBackup, PlannedWalSegment } from './plan-types.ts';
import { parseLsn } from './wal-position.ts';
import { recoveryLegs, targetTimeline, type Lineage } from './wal-cuts.ts';

/**
 * The refusal rule: a retention run deletes from a PITR archive only when every kept base backup
 * can still replay, without a hole, from its start up to the newest archived position. A hole
 * there (a segment the catalog never recorded, or one storage lost) means the archive is not what
 * the plan believes, so the run deletes nothing and says which segment is missing.
 *
 * As in recovery (xlogrecovery.c XLogFileReadAnyTLI), the segment holding a switch point is read
 * from the child timeline: a parent timeline is needed up to the segment before it.
 */

interface Archive {
  present: Set<string>;
  /** Exclusive end of the newest archived byte of each timeline. */
  newestEnd: Map<number, bigint>;
}

const slot = (timeline: number, segno: bigint) => `${timeline}:${segno}`;

function archiveOf(segments: readonly PlannedWalSegment[], segmentSize: bigint): Archive {
  const present = new Set<string>();
  const newestEnd = new Map<number, bigint>();
  for (const segment of segments) {
    const end = parseLsn(segment.endLsn);
    if ((newestEnd.get(segment.timeline) ?? -1n) < end) newestEnd.set(segment.timeline, end);
    if (segment.present === false) continue;
    present.add(slot(segment.timeline, parseLsn(segment.startLsn) / segmentSize));
  }
  return { present, newestEnd };
}

/** Null when every kept base backup reaches the newest archived position; else what is missing. */
export function findWalHole(
  restoredFrom: readonly PlannedBaseBackup[],
  segments: readonly PlannedWalSegment[],
  lineage: Lineage,
  segmentSize: number,
): string | null {
  const target = targetTimeline(segments);
  if (target === null || restoredFrom.length === 0) return null;
  const size = BigInt(segmentSize);
  const archive = archiveOf(segments, size);
  for (const base of restoredFrom) {
    const legs = recoveryLegs(parseLsn(base.startLsn), base.timeline, target, lineage);
    for (const leg of legs) {
      const first = leg.from / size;
      const newest = archive.newestEnd.get(leg.timeline);
      const last = leg.to !== null ? leg.to / size - 1n : newest === undefined ? first - 1n : (newest - 1n) / size;
      for (let segno = first; segno <= last; segno++) {
        if (archive.present.has(slot(leg.timeline, segno))) continue;
        const name = segmentName(leg.timeline, segno, segmentSize);
        return `WAL segment ${name} (timeline ${leg.timeline}) is missing from the archive, inside the recovery window of kept base backup ${base.id}: nothing of the archive was deleted. Put the segment back from another copy of the archive; while the hole stays, retention leaves the PITR archive alone`;
      }
    }
  }
  return null;
}
