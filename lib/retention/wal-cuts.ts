import { parseHistoryFile } from '../wal/lsn.ts';
import type { PlannedBaseBackup, PlannedHistory, PlannedWalSegment, WalTimelineCut } from './plan-types.ts';
import { formatLsn, parseLsn } from './wal-position.ts';

/**
 * Which WAL of each timeline a PITR archive can lose. Recovery from a base backup replays its own
 * timeline from the backup's start, then, following the target timeline's history file, each
 * descendant from the point where it branched off, up to the newest archived position. So on each
 * timeline the WAL a kept base backup needs starts at the earliest of: the start of a kept base
 * backup on it, or its branch point when a kept base backup on an ancestor replays through it.
 * Everything on that timeline ending at or before that point goes. A timeline no kept base backup
 * replays through (a branch the archive moved away from) is only cut before the oldest kept start.
 */

/** One timeline's stretch of a recovery: from `from` up to `to` (null: the newest archived byte). */
export interface RecoveryLeg {
  timeline: number;
  from: bigint;
  to: bigint | null;
}

/** Each timeline's ancestors, oldest first, with the position where each was left. */
export type Lineage = Map<number, Array<{ timeline: number; end: bigint }>>;

export function lineageOf(histories: readonly PlannedHistory[]): Lineage {
  const out: Lineage = new Map();
  for (const history of histories) {
    const switches = parseHistoryFile(history.content).filter((s) => s.parentTimeline < history.timeline);
    out.set(
      history.timeline,
      switches.map((s) => ({ timeline: s.parentTimeline, end: s.switchLsn })),
    );
  }
  return out;
}

/** The newest archived timeline: where recovery to the latest position ends. */
export function targetTimeline(segments: readonly PlannedWalSegment[]): number | null {
  let target: number | null = null;
  for (const segment of segments) if (target === null || segment.timeline > target) target = segment.timeline;
  return target;
}

/**
 * The legs recovery from a base backup replays to reach the target timeline. A base backup off the
 * target's lineage (or taken after its timeline was left) can only replay its own timeline.
 */
export function recoveryLegs(start: bigint, timeline: number, target: number, lineage: Lineage): RecoveryLeg[] {
  if (timeline === target) return [{ timeline, from: start, to: null }];
  const ancestors = lineage.get(target) ?? [];
  const index = ancestors.findIndex((a) => a.timeline === timeline);
  if (index === -1 || ancestors[index]!.end <= start) return [{ timeline, from: start, to: null }];
  const legs: RecoveryLeg[] = [{ timeline, from: start, to: ancestors[index]!.end }];
  for (let i = index + 1; i < ancestors.length; i++) {
    legs.push({ timeline: ancestors[i]!.timeline, from: ancestors[i - 1]!.end, to: ancestors[i]!.end });
  }
  legs.push({ timeline: target, from: ancestors.at(-1)!.end, to: null });
  return legs;
}

const minOf = (a: bigint | undefined, b: bigint): bigint => (a === undefined || b < a ? b : a);

/** Per timeline, the position before which no kept base backup replays its WAL. */
export function walNeeds(
  restoredFrom: readonly PlannedBaseBackup[],
  segments: readonly PlannedWalSegment[],
  lineage: Lineage,
): Map<number, bigint> {
  const needs = new Map<number, bigint>();
  const target = targetTimeline(segments);
  if (restoredFrom.length === 0) return needs;
  let oldest: bigint | undefined;
  for (const base of restoredFrom) {
    const start = parseLsn(base.startLsn);
    oldest = minOf(oldest, start);
    const legs =
      target === null
        ? [{ timeline: base.timeline, from: start }]
        : recoveryLegs(start, base.timeline, target, lineage);
    for (const leg of legs) needs.set(leg.timeline, minOf(needs.get(leg.timeline), leg.from));
  }
  for (const segment of segments) if (!needs.has(segment.timeline)) needs.set(segment.timeline, oldest!);
  return needs;
}

/** The segments to delete, grouped into one cut per timeline (oldest timeline first). */
export function walCuts(segments: readonly PlannedWalSegment[], needs: Map<number, bigint>): WalTimelineCut[] {
  const doomed = new Map<number, PlannedWalSegment[]>();
  for (const segment of segments) {
    const need = needs.get(segment.timeline);
    if (need === undefined || parseLsn(segment.endLsn) > need) continue;
    const list = doomed.get(segment.timeline) ?? [];
    list.push(segment);
    doomed.set(segment.timeline, list);
  }
  return [...doomed.entries()]
    .sort(([a], [b]) => a - b)
    .map(([timeline, list]) => {
      list.sort((a, b) => (parseLsn(a.startLsn) < parseLsn(b.startLsn) ? -1 : 1));
      return {
        timeline,
        cutLsn: formatLsn(needs.get(timeline)!),
        first: list[0]!.name,
        last: list.at(-1)!.name,
        firstLsn: list[0]!.startLsn,
        lastLsn: list.at(-1)!.endLsn,
        segments: list.length,
        bytes: list.reduce((sum, s) => sum + (s.storedBytes ?? 0), 0),
      };
    });
}

/**
 * History files that can go: a history file of timeline N names N's ancestors, so it is kept while
 * any kept base backup or any WAL left after the cuts lies on N or on a timeline descending from N.
 */
export function doomedHistories(
  histories: readonly PlannedHistory[],
  lineage: Lineage,
  keptBases: readonly PlannedBaseBackup[],
  segments: readonly PlannedWalSegment[],
  cuts: readonly WalTimelineCut[],
): number[] {
  const cutOf = new Map(cuts.map((c) => [c.timeline, parseLsn(c.cutLsn)]));
  const live = new Set<number>(keptBases.map((b) => b.timeline));
  for (const segment of segments) {
    const cut = cutOf.get(segment.timeline);
    if (cut === undefined || parseLsn(segment.endLsn) > cut) live.add(segment.timeline);
  }
  const needed = new Set<number>();
  for (const timeline of live) {
    needed.add(timeline);
    for (const ancestor of lineage.get(timeline) ?? []) needed.add(ancestor.timeline);
  }
  return histories
    .map((h) => h.timeline)
    .filter((timeline) => !needed.has(timeline))
    .sort((a, b) => a - b);
}
