/**
 * Which base backup and timeline a point-in-time restore uses, decided before anything is
 * extracted: a target outside every recoverable window fails at once, naming the windows in UTC
 * (docs/design.md, failure modes 3, 4 and 5).
 */
import { HindsightError } from '../errors.ts';
import { chooseWindow, describeWindow, type ChainTarget, type RecoveryWindow } from '../wal/chain.ts';
import { parseLsn, type Lsn } from '../wal/lsn.ts';
import { localDateTime } from '../time-zone.ts';
import type { PitrTarget } from './target.ts';
import type { LoadedChain } from './chain-source.ts';
import { endsAtGap, windowEnd } from './window-end.ts';

export interface RestorePlan {
  window: RecoveryWindow;
  baseBackupId: string;
  timeline: number;
  /**
   * False when the window ends at a gap rather than at the newest archived byte. Only at the head
   * of the archive does partial shipping guarantee that every commit up to the window's end time is
   * archived; before a gap, the end time is when the last segment arrived, and commits between its
   * last byte and that time may sit in the missing segment.
   */
  endsAtHead: boolean;
}

/**
 * An idle database writes no WAL, so nothing new reaches the archive and the newest window's end
 * time would stay at the last upload: a time after the last commit would look outside the window
 * (docs/design.md, failure mode 5). When the server itself says it has written nothing beyond what storage
 * holds on that timeline, the archive is complete as of now, and the head windows end now.
 */
export function extendHeadToNow(
  chain: LoadedChain,
  server: { timeline: number; lsn: Lsn; at?: Date },
  now: Date,
): LoadedChain {
  // Told on the server's own clock, the end is exact even when it is earlier than the last WAL's
  // arrival, which this host dated on a clock that may run ahead of the server's.
  const windows = chain.analysis.windows.map((w) =>
    w.timeline === server.timeline && server.lsn <= w.to.lsn && (now > w.to.time || server.at !== undefined)
      ? { ...w, to: { lsn: w.to.lsn, time: now } }
      : w,
  );
  return { ...chain, analysis: { ...chain.analysis, windows } };
}

export function toChainTarget(target: PitrTarget): ChainTarget {
  if (target === 'latest' || target === 'immediate') return { kind: target };
  if ('time' in target) return { kind: 'time', time: new Date(target.time.replace(' ', 'T')) };
  if ('lsn' in target) return { kind: 'lsn', lsn: parseLsn(target.lsn) };
  if ('xid' in target) return { kind: 'xid' };
  return { kind: 'name' };
}

export function describeTarget(target: PitrTarget): string {
  if (typeof target === 'string') return target;
  if ('time' in target) return `time ${target.time} (${new Date(target.time.replace(' ', 'T')).toISOString()})`;
  if ('lsn' in target) return `LSN ${target.lsn}`;
  if ('xid' in target) return `transaction ${target.xid}`;
  return `restore point "${target.name}"`;
}

/** "2026-11-23 17:43:40 Europe/Paris": a window's bounds as the database's own zone shows them. */
function inZone(at: Date, timeZone: string): string {
  return `${localDateTime(at, timeZone).replace('T', ' ')} ${timeZone}`;
}

/**
 * For a target after a window whose end is only approximate: that end and why, since the target
 * may be accepted once the WAL on its way is in storage (lib/pitr/window-end.ts).
 */
function approximateEndNote(chain: LoadedChain, target: PitrTarget): string {
  const wanted = toChainTarget(target);
  const after = (w: RecoveryWindow): boolean =>
    (wanted.kind === 'time' && wanted.time > w.to.time) || (wanted.kind === 'lsn' && wanted.lsn > w.to.lsn);
  const note = chain.analysis.windows
    .filter(after)
    .map((w) => windowEnd(chain.analysis, chain.head, w).note)
    .find((n) => n !== null);
  return note ? ` The newest window's end is approximate (${note}); a later time may be accepted then.` : '';
}

export function planRestore(chain: LoadedChain, target: PitrTarget, options: { timeZone?: string } = {}): RestorePlan {
  const { windows } = chain.analysis;
  const window = chooseWindow(windows, toChainTarget(target));
  if (window) {
    const endsAtHead = !endsAtGap(chain.analysis, window);
    return { window, baseBackupId: window.baseBackupId, timeline: window.timeline, endsAtHead };
  }
  const what = describeTarget(target);
  if (windows.length === 0) {
    const why =
      chain.systemIdentifier === null
        ? 'nothing is archived yet (turn PITR on and let a base backup complete)'
        : chain.baseBackups.length === 0
          ? 'there is no complete base backup (take one with hindsight base-backup)'
          : chain.analysis.unusableBaseBackups.map((u) => `base backup ${u.id}: ${u.reason}`).join('; ');
    throw new HindsightError(
      'bad_input',
      `database "${chain.database}" has no recoverable window, so ${what} cannot be restored: ${why}`,
    );
  }
  const zone = options.timeZone && options.timeZone !== 'UTC' ? options.timeZone : undefined;
  const listed = windows
    .map((w) =>
      zone ? `${describeWindow(w)} (${inZone(w.from.time, zone)} to ${inZone(w.to.time, zone)})` : describeWindow(w),
    )
    .join('; ');
  const approximate = approximateEndNote(chain, target);
  const gaps =
    chain.analysis.gaps.length > 0
      ? ` Gaps in the archive: ${chain.analysis.gaps.length} (the WAL chain monitor names them).`
      : '';
  throw new HindsightError(
    'bad_input',
    `${what} is outside every recoverable window of database "${chain.database}"; choose a target inside one of these windows (UTC): ${listed}.${approximate}${gaps}`,
  );
}
