import { HindsightError } from '../errors.ts';
import type { PlannedWalSegment, WalCut } from './plan-types.ts';

/** WAL positions (LSNs) and which archived segments lie before a cut. */

const lsnPattern = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i;

/** A PostgreSQL LSN such as 16/B374D848 as a 64-bit position. */
export function parseLsn(lsn: string): bigint {
  const match = lsnPattern.exec(lsn);
  if (match === null) throw new HindsightError('bad_input', `"${lsn}" is not an LSN (expected the form 16/B374D848)`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatLsn(position: bigint): string {
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function compareLsn(a: string, b: string): number {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A segment may go when it ends at or before the cut: the cut is at or before the start of every
 * kept base backup, so no kept base backup replays it. Newer timelines are left alone.
 */
export function isWalSegmentBefore(segment: PlannedWalSegment, cut: WalCut): boolean {
  return segment.timeline <= cut.timeline && compareLsn(segment.endLsn, cut.lsn) <= 0;
}
