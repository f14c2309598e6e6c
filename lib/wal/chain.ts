/**
 * The WAL chain: which points in time can be recovered, from which base backup, and where the
 * archive has holes. Pure: the catalog (and a look at what storage really holds) supplies the
 * facts, this module only reasons about them.
 *
 * A window starts at a complete base backup's stop point (a restore cannot end before the backup
 * is consistent, docs/design.md, failure mode 3) and runs through the contiguous segments that follow on its
 * timeline. A child timeline continues a window only when the parent's segments reach the child's
 * first segment (the one holding the switch point, which recovery reads from the child, as
 * xlogrecovery.c XLogFileReadAnyTLI does) and the switch lies after the backup's stop point. A
 * segment of a parent timeline past the switch point never extends a child's window (docs/design.md, failure mode 6).
 */
import {
  formatLsn,
  parseHistoryFile,
  segmentEndLsn,
  segmentName,
  segmentOf,
  segmentStartLsn,
  type Lsn,
  type Timeline,
} from './lsn.ts';

export interface ChainSegment {
  timeline: Timeline;
  segno: bigint;
  /** Exclusive end of the bytes the archive holds; the segment's end when complete. */
  endLsn: Lsn;
  complete: boolean;
  receivedAt: Date;
  /** False when the catalog lists it but storage does not hold it (a deleted object). */
  inStorage?: boolean;
}

export interface ChainBaseBackup {
  id: string;
  timeline: Timeline;
  startLsn: Lsn;
  stopLsn: Lsn;
  stopTime: Date;
}

export interface ChainHistory {
  timeline: Timeline;
  content: string;
}

export interface ChainPoint {
  lsn: Lsn;
  time: Date;
}

/** One timeline's stretch of a window: recovery reads this timeline from `fromLsn` up to `toLsn`. */
export interface WindowLeg {
  timeline: Timeline;
  fromLsn: Lsn;
  toLsn: Lsn;
}

export interface RecoveryWindow {
  baseBackupId: string;
  /** The timeline recovery ends on: `recovery_target_timeline`. */
  timeline: Timeline;
  legs: WindowLeg[];
  /** The base backup's stop point: the earliest recoverable point. */
  from: ChainPoint;
  /** The last durable byte and when it was received. */
  to: ChainPoint;
}

export interface ChainGap {
  timeline: Timeline;
  fromLsn: Lsn;
  toLsn: Lsn;
  /** Names of the segments that are missing (the first 64; `missingCount` has them all). */
  missing: string[];
  missingCount: number;
  /** Segments the catalog lists but storage does not hold, among the missing. */
  notInStorage: string[];
}

export interface ChainAnalysis {
  windows: RecoveryWindow[];
  gaps: ChainGap[];
  /** Base backups whose own WAL (start to stop) is not all in the archive: they cannot be restored. */
  unusableBaseBackups: Array<{ id: string; reason: string }>;
}

export interface ChainInput {
  segmentSize: number;
  segments: ChainSegment[];
  baseBackups: ChainBaseBackup[];
  histories: ChainHistory[];
}

const MISSING_NAMES_KEPT = 64;

interface Branch {
  child: Timeline;
  switchLsn: Lsn;
}

/** How far the contiguous segments of one timeline reach from a starting segment. */
interface Reach {
  /** Exclusive end of the contiguous bytes (the start of `fromSegno` when the first is missing). */
  endLsn: Lsn;
  /** When the last contiguous byte was received; null when nothing was contiguous. */
  receivedAt: Date | null;
}

function byTimeline(segments: ChainSegment[]): Map<Timeline, Map<bigint, ChainSegment>> {
  const out = new Map<Timeline, Map<bigint, ChainSegment>>();
  for (const s of segments) {
    let m = out.get(s.timeline);
    if (!m) out.set(s.timeline, (m = new Map()));
    m.set(s.segno, s);
  }
  return out;
}

/** Children of each timeline from the history files: the last line of `<child>.history` names its parent. */
function branchesOf(histories: ChainHistory[]): Map<Timeline, Branch[]> {
  const out = new Map<Timeline, Branch[]>();
  for (const h of histories) {
    const last = parseHistoryFile(h.content).at(-1);
    if (!last || last.parentTimeline >= h.timeline) continue;
    const list = out.get(last.parentTimeline) ?? [];
    list.push({ child: h.timeline, switchLsn: last.switchLsn });
    out.set(last.parentTimeline, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.child - b.child);
  return out;
}

const usable = (s: ChainSegment | undefined): boolean => s !== undefined && s.inStorage !== false;

function reach(segs: Map<bigint, ChainSegment> | undefined, fromSegno: bigint, segmentSize: number): Reach {
  let endLsn = segmentStartLsn(fromSegno, segmentSize);
  let receivedAt: Date | null = null;
  for (let segno = fromSegno; ; segno++) {
    const s = segs?.get(segno);
    if (!s || !usable(s)) break;
    endLsn = s.complete ? segmentEndLsn(segno, segmentSize) : s.endLsn;
    receivedAt = s.receivedAt;
    if (!s.complete) break;
  }
  return { endLsn, receivedAt };
}

export function analyseChain(input: ChainInput): ChainAnalysis {
  const { segmentSize } = input;
  const segs = byTimeline(input.segments);
  const branches = branchesOf(input.histories);
  const windows: RecoveryWindow[] = [];
  const unusableBaseBackups: ChainAnalysis['unusableBaseBackups'] = [];

  /** Follows one timeline from `fromLsn` (inside segment `fromSegno`), then every child that branches off inside the reach. */
  const follow = (
    backup: ChainBaseBackup,
    timeline: Timeline,
    fromSegno: bigint,
    fromLsn: Lsn,
    legs: WindowLeg[],
    last: ChainPoint,
  ): void => {
    const r = reach(segs.get(timeline), fromSegno, segmentSize);
    // A child timeline of which nothing is archived yet extends no window.
    if (legs.length > 0 && r.receivedAt === null) return;
    const here: ChainPoint = r.receivedAt && r.endLsn > last.lsn ? { lsn: r.endLsn, time: r.receivedAt } : last;
    const path = [...legs, { timeline, fromLsn, toLsn: here.lsn }];
    if (here.lsn >= backup.stopLsn) {
      windows.push({
        baseBackupId: backup.id,
        timeline,
        legs: path,
        from: { lsn: backup.stopLsn, time: backup.stopTime },
        to: here,
      });
    }
    for (const b of branches.get(timeline) ?? []) {
      // A child that branched before the backup was consistent does not hold the backup's history.
      if (b.switchLsn < backup.stopLsn) continue;
      const childFirst = segmentOf(b.switchLsn, segmentSize);
      // Recovery reads the parent up to the child's first segment, then the child from there on.
      if (r.endLsn < segmentStartLsn(childFirst, segmentSize)) continue;
      const parentLeg = { timeline, fromLsn, toLsn: b.switchLsn };
      follow(backup, b.child, childFirst, b.switchLsn, [...legs, parentLeg], { lsn: b.switchLsn, time: here.time });
    }
  };

  for (const backup of input.baseBackups) {
    const firstSegno = segmentOf(backup.startLsn, segmentSize);
    const r = reach(segs.get(backup.timeline), firstSegno, segmentSize);
    if (r.endLsn < backup.stopLsn) {
      unusableBaseBackups.push({
        id: backup.id,
        reason: `its WAL from ${formatLsn(backup.startLsn)} to ${formatLsn(backup.stopLsn)} on timeline ${backup.timeline} is not all archived (contiguous only to ${formatLsn(r.endLsn)})`,
      });
      continue;
    }
    follow(backup, backup.timeline, firstSegno, backup.startLsn, [], { lsn: backup.startLsn, time: backup.stopTime });
  }

  windows.sort(
    (a, b) => a.timeline - b.timeline || cmp(a.from.lsn, b.from.lsn) || a.from.time.getTime() - b.from.time.getTime(),
  );
  return { windows, gaps: findGaps(input, segs, branches), unusableBaseBackups };
}

const cmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Holes on each timeline between where its WAL must begin (its switch point, or the oldest base
 * backup's start on it, or its first archived segment) and its newest archived segment. A partial
 * segment that is followed by later ones is a hole too: its missing tail was never archived.
 */
function findGaps(
  input: ChainInput,
  segs: Map<Timeline, Map<bigint, ChainSegment>>,
  branches: Map<Timeline, Branch[]>,
): ChainGap[] {
  const { segmentSize } = input;
  const starts = new Map<Timeline, bigint>();
  const lower = (tli: Timeline, segno: bigint) => {
    const current = starts.get(tli);
    if (current === undefined || segno < current) starts.set(tli, segno);
  };
  for (const [tli, m] of segs) for (const segno of m.keys()) lower(tli, segno);
  for (const b of input.baseBackups) lower(b.timeline, segmentOf(b.startLsn, segmentSize));
  for (const list of branches.values())
    for (const b of list) if (segs.has(b.child)) lower(b.child, segmentOf(b.switchLsn, segmentSize));

  const gaps: ChainGap[] = [];
  for (const [tli, first] of [...starts].sort((a, b) => a[0] - b[0])) {
    const m = segs.get(tli);
    if (!m || m.size === 0) continue;
    const lastSegno = [...m.keys()].reduce((a, b) => (b > a ? b : a));
    let open: ChainGap | undefined;
    const close = () => {
      if (open) gaps.push(open);
      open = undefined;
    };
    for (let segno = first; segno <= lastSegno; segno++) {
      const s = m.get(segno);
      const name = segmentName(tli, segno, segmentSize);
      if (!usable(s)) {
        open ??= {
          timeline: tli,
          fromLsn: segmentStartLsn(segno, segmentSize),
          toLsn: 0n,
          missing: [],
          missingCount: 0,
          notInStorage: [],
        };
        open.toLsn = segmentEndLsn(segno, segmentSize);
        open.missingCount += 1;
        if (open.missing.length < MISSING_NAMES_KEPT) open.missing.push(name);
        if (s && s.inStorage === false && open.notInStorage.length < MISSING_NAMES_KEPT) open.notInStorage.push(name);
        continue;
      }
      close();
      if (s && !s.complete && segno < lastSegno) {
        open = {
          timeline: tli,
          fromLsn: s.endLsn,
          toLsn: segmentEndLsn(segno, segmentSize),
          missing: [],
          missingCount: 0,
          notInStorage: [],
        };
      }
    }
    close();
  }
  return gaps;
}

// ---------------------------------------------------------------------------------------------
// Targets inside windows

export type ChainTarget =
  | { kind: 'time'; time: Date }
  | { kind: 'lsn'; lsn: Lsn }
  | { kind: 'latest' }
  | { kind: 'immediate' }
  /** Transaction ids and restore points cannot be placed on the time or LSN axis before replay. */
  | { kind: 'xid' }
  | { kind: 'name' };

const laterStop = (a: RecoveryWindow, b: RecoveryWindow): number =>
  cmp(b.from.lsn, a.from.lsn) || b.from.time.getTime() - a.from.time.getTime();

/**
 * The window (hence the base backup and the timeline) to restore a target from, or null when no
 * window holds it. Among windows that hold it: the highest timeline (a target before the switch is
 * the same on both), then the newest base backup by stop LSN and time, never by name. A transaction
 * id or a restore point is searched from the oldest base backup of the newest window, so that as
 * much WAL as possible is replayed looking for it.
 */
export function chooseWindow(windows: RecoveryWindow[], target: ChainTarget): RecoveryWindow | null {
  const holds = (w: RecoveryWindow): boolean => {
    switch (target.kind) {
      case 'time':
        return w.from.time.getTime() <= target.time.getTime() && target.time.getTime() <= w.to.time.getTime();
      case 'lsn':
        return w.from.lsn <= target.lsn && target.lsn <= w.to.lsn;
      default:
        return true;
    }
  };
  const candidates = windows.filter(holds);
  if (candidates.length === 0) return null;
  if (target.kind === 'latest' || target.kind === 'xid' || target.kind === 'name') {
    const newestEnd = candidates.reduce((best, w) =>
      w.timeline > best.timeline || (w.timeline === best.timeline && w.to.lsn > best.to.lsn) ? w : best,
    );
    const sameEnd = candidates
      .filter((w) => w.timeline === newestEnd.timeline && w.to.lsn === newestEnd.to.lsn)
      .sort(laterStop);
    return target.kind === 'latest' ? sameEnd[0]! : sameEnd.at(-1)!;
  }
  const top = Math.max(...candidates.map((w) => w.timeline));
  return candidates.filter((w) => w.timeline === top).sort(laterStop)[0]!;
}

/** "timeline 1: 2026-11-23T10:00:00Z (0/3000100) to 2026-11-23T10:05:12Z (0/5A0C1D8), base backup b-…" */
export function describeWindow(w: RecoveryWindow): string {
  return `timeline ${w.timeline}: ${w.from.time.toISOString()} (${formatLsn(w.from.lsn)}) to ${w.to.time.toISOString()} (${formatLsn(w.to.lsn)}), base backup ${w.baseBackupId}`;
}

export function describeGap(g: ChainGap): string {
  const names =
    g.missing.length > 0
      ? `: ${g.missingCount} segment(s) missing (${g.missing.slice(0, 3).join(', ')}${g.missingCount > 3 ? ', …' : ''})`
      : ': the tail of a partial segment was never archived';
  return `timeline ${g.timeline} from ${formatLsn(g.fromLsn)} to ${formatLsn(g.toLsn)}${names}`;
}
