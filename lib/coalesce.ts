/**
 * One call on behalf of many: calls that arrive while one is in flight, or within `windowMs` after
 * it began, get its promise instead of starting another. A failed call is forgotten at once, so
 * the next caller tries again.
 */
export function coalesced(fn: () => Promise<void>, windowMs: number, now: () => number = Date.now) {
  let last: { startedAt: number; done: Promise<void>; settled: boolean } | undefined;
  return (): Promise<void> => {
    if (last && (!last.settled || now() - last.startedAt < windowMs)) return last.done;
    const entry: { startedAt: number; done: Promise<void>; settled: boolean } = {
      startedAt: now(),
      done: Promise.resolve(),
      settled: false,
    };
    entry.done = fn().then(
      () => {
        entry.settled = true;
      },
      (error: unknown) => {
        entry.settled = true;
        if (last === entry) last = undefined;
        throw error;
      },
    );
    last = entry;
    return entry.done;
  };
}
