import { HindsightError } from '../errors.ts';
import { lockDate } from '../storage/locked.ts';
import type { DeleteDecision, KeepDecision } from './plan-types.ts';

/** Shared vocabulary of every retention decision: ordering, the reasons kept, input checks. */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export const plural = (count: number, one: string, many: string): string => (count === 1 ? one : `${count} ${many}`);

export const reasons = {
  young: 'younger than one hour',
  newestVerified: 'newest verified backup',
  inUse: 'in use by a restore or verification',
  lastStanding: 'newest backup: retention never deletes every backup',
  outsideTiers: 'outside every tier',
} as const;

/** Newest first; equal times fall back to the id so that every run orders backups the same way. */
export function newestFirst(a: { id: string; finishedAt: Date }, b: { id: string; finishedAt: Date }): number {
  const byTime = b.finishedAt.getTime() - a.finishedAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** The reason a backup under an immutable storage's retention is kept. */
export const lockedReason = (until: Date): string => `locked until ${lockDate(until)}`;

export function addReason(map: Map<string, string[]>, id: string, reason: string): void {
  const list = map.get(id);
  if (list === undefined) map.set(id, [reason]);
  else if (!list.includes(reason)) list.push(reason);
}

export function checkInput(items: ReadonlyArray<{ id: string; finishedAt: Date }>, what: string): void {
  const ids = new Set<string>();
  for (const item of items) {
    if (ids.has(item.id)) throw new HindsightError('bad_input', `${what} ${item.id} appears twice`);
    ids.add(item.id);
    if (!(item.finishedAt instanceof Date) || Number.isNaN(item.finishedAt.getTime())) {
      throw new HindsightError('bad_input', `${what} ${item.id} has no valid finish time`);
    }
  }
}

export function split(
  sorted: ReadonlyArray<{ id: string }>,
  keeps: Map<string, string[]>,
  deleteReason: string,
): { keep: KeepDecision[]; delete: DeleteDecision[] } {
  const keep: KeepDecision[] = [];
  const remove: DeleteDecision[] = [];
  for (const item of sorted) {
    const why = keeps.get(item.id);
    if (why !== undefined) keep.push({ id: item.id, reasons: why });
    else remove.push({ id: item.id, reason: deleteReason });
  }
  return { keep, delete: remove };
}
