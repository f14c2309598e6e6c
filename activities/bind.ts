/** An activity written as a plain function of its dependencies and its one input. */
type ActivityOf<D> = (deps: D, input: never) => Promise<unknown>;

export type BoundActivities<D, T> = {
  [K in keyof T]: T[K] extends (deps: D, ...args: infer A) => infer R ? (...args: A) => R : never;
};

/**
 * Turns module-level activity functions into the worker's activities: each is given `deps` and
 * keeps its key (the activity type workflows call) as its name.
 */
export function bindActivities<D, T extends Record<string, ActivityOf<D>>>(
  deps: D,
  activities: T,
): BoundActivities<D, T> {
  const bound = Object.entries(activities).map(([name, fn]) => {
    const call = (...args: unknown[]) => (fn as (deps: D, ...rest: unknown[]) => Promise<unknown>)(deps, ...args);
    Object.defineProperty(call, 'name', { value: name });
    return [name, call] as const;
  });
  return Object.fromEntries(bound) as BoundActivities<D, T>;
}
