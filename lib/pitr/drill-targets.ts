/**
 * Where a PITR drill restores to: one random time inside each recoverable window the catalog
 * records, and the newest point (`latest`) of the newest window. Random, so that over many drills
 * every part of a window gets proven, not only its ends; seeded in tests. Pure: the drill workflow
 * receives these from its planning activity.
 */
import { z } from 'zod';
import type { WindowView } from './chain-view.ts';

export interface DrillTarget {
  window: string;
  timeline: number;
  baseBackupId: string;
  /** `{ time }` inside the window, or 'latest'. */
  target: { time: string } | 'latest';
  /** What a pass proves the window up to: the time, or the window's end when planned for 'latest'. */
  provesUntil: string;
  /** The window's start and end as planned (an end LSN recovery to 'latest' must reach). */
  fromLsn: string;
  toLsn: string;
  /** Segments the catalog lists inside the window that storage does not hold. */
  missingInStorage: string[];
}

export const drillOptionsSchema = z
  .object({
    /** Seeds the choice of times (tests); absent: a fresh random choice. */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional(),
    /** Also restore to the newest point of the newest window (default true). */
    latest: z.boolean().default(true),
  })
  .strict();
export type DrillOptions = z.input<typeof drillOptionsSchema>;

/** mulberry32: a small, well-spread generator, deterministic for a seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A time strictly after the window's start and at or before its end, to the millisecond. Not the
 * start itself: that is the moment the base backup became consistent, where a time target has
 * nothing to stop at.
 */
export function timeInside(window: Pick<WindowView, 'from' | 'to'>, random: () => number): string {
  const from = Date.parse(window.from.time);
  const to = Date.parse(window.to.time);
  if (!(to > from)) return new Date(to).toISOString();
  const span = to - from;
  const offset = Math.min(span, 1 + Math.floor(random() * span));
  return new Date(from + offset).toISOString();
}

export function pickDrillTargets(
  windows: readonly WindowView[],
  options: { random: () => number; latest: boolean; missingInStorage?: (w: WindowView) => string[] },
): DrillTarget[] {
  const of = (w: WindowView, target: DrillTarget['target'], provesUntil: string): DrillTarget => ({
    window: w.text,
    timeline: w.timeline,
    baseBackupId: w.baseBackupId,
    target,
    provesUntil,
    fromLsn: w.from.lsn,
    toLsn: w.to.lsn,
    missingInStorage: options.missingInStorage?.(w) ?? [],
  });
  const targets = windows.map((w) => {
    const time = timeInside(w, options.random);
    return of(w, { time }, time);
  });
  const newest = windows.at(-1);
  if (options.latest && newest) targets.push(of(newest, 'latest', new Date(Date.parse(newest.to.time)).toISOString()));
  return targets;
}
