/**
 * Where a recoverable window ends, and how well that end is known: the one answer the console's
 * bar, `db show`, the API, the restore check and the planning activity all give (docs/pitr.md,
 * "Where a window ends").
 *
 * A window's end is a time a restore provably reaches when the server has said it wrote nothing
 * beyond what storage holds (the head is confirmed, and the newest window ends at that moment), or
 * when the window ends at a timeline switch or a gap (nothing more will ever arrive there). At the
 * head of an archive whose server could not confirm it — WAL written that has not reached storage
 * yet, or a server that cannot be asked — the end is only the time the last durable byte arrived:
 * commits just before it may still be on their way. That end is shown as approximate ("up to
 * about …, exact after the next check") instead of being passed off as exact.
 */
import type { ChainAnalysis, RecoveryWindow } from '../wal/chain.ts';

/** What the server said about the archive's head when the windows were computed. */
export type HeadEnd =
  /** Storage held every byte the server had written at `at`: commits up to `at` are archived. */
  | { confirmed: true; at: Date }
  /** Why the head could not be confirmed (the server is behind storage, or could not be asked). */
  | { confirmed: false; reason: string };

export interface WindowEnd {
  time: Date;
  /** False when commits before `time` may not have reached storage yet. */
  exact: boolean;
  /** The window ends at the archive's newest byte (not at a gap or a timeline switch). */
  atHead: boolean;
  /** For an approximate end: what to tell people, e.g. "up to about …, exact after the next check: …". */
  note: string | null;
}

/** True when a gap on the window's timeline begins where the window ends. */
export function endsAtGap(analysis: ChainAnalysis, w: RecoveryWindow): boolean {
  return analysis.gaps.some((g) => g.timeline === w.timeline && g.fromLsn >= w.to.lsn);
}

/** Whether `w` ends at the newest byte of the newest timeline the windows reach. */
function isHeadWindow(analysis: ChainAnalysis, w: RecoveryWindow): boolean {
  const top = Math.max(...analysis.windows.map((x) => x.timeline));
  if (w.timeline !== top || endsAtGap(analysis, w)) return false;
  return analysis.windows.every((x) => x.timeline !== top || x.to.lsn <= w.to.lsn);
}

/** "2026-11-23 10:05:12Z": a window end as the approximate note prints it. */
const shortUtc = (at: Date): string => `${at.toISOString().slice(0, 19).replace('T', ' ')}Z`;

/** The end of `w`: its time, whether a restore provably reaches it, and what to say when not. */
export function windowEnd(analysis: ChainAnalysis, head: HeadEnd | undefined, w: RecoveryWindow): WindowEnd {
  const atHead = !endsAtGap(analysis, w);
  // Without a head state (the chain monitor's own view) the window stands as stored.
  if (!head || head.confirmed || !isHeadWindow(analysis, w))
    return { time: w.to.time, exact: true, atHead, note: null };
  return {
    time: w.to.time,
    exact: false,
    atHead,
    note: `up to about ${shortUtc(w.to.time)}, exact after the next check: ${head.reason}`,
  };
}
