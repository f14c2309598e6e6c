/**
 * The fakes that stand in for activities in the workflow tests: each call is recorded in order, and a
 * fake can hold its answer, or run until it is cancelled, so that a test can act on the run meanwhile.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities/index.ts';

export type ActivityName = keyof Activities;
/** One call an activity fake received: its name and its input, as the workflow sent them. */
export type ActivityCall = { name: string; input: unknown };
export type FakeActivities = Partial<{
  [K in ActivityName]: (input: Parameters<Activities[K]>[0]) => Promise<Awaited<ReturnType<Activities[K]>>>;
}>;
export type AnyActivity = (input: unknown) => Promise<unknown>;
export type Recording = {
  activities: Record<string, AnyActivity>;
  calls: ActivityCall[];
  named: (name: ActivityName) => unknown[];
};

/** Wraps fakes so that every call is recorded in order before the fake answers. */
export function recording(fakes: FakeActivities): Recording {
  const calls: ActivityCall[] = [];
  const activities: Record<string, AnyActivity> = {};
  for (const [name, fake] of Object.entries(fakes) as Array<[string, AnyActivity]>) {
    activities[name] = async (input: unknown) => {
      calls.push({ name, input });
      return fake(input);
    };
  }
  return { activities, calls, named: (name) => calls.filter((c) => c.name === name).map((c) => c.input) };
}

/** The activities a run called, in order, as one line: `first → second → third`. */
export const callOrder = (fake: Recording): string => fake.calls.map((c) => c.name).join(' → ');

/** The failure an activity throws: retried by its workflow's policy unless `nonRetryable`. */
export const activityFailure = (message: string, type: string, options: { nonRetryable?: boolean } = {}) =>
  ApplicationFailure.create({ message, type, nonRetryable: options.nonRetryable === true });

/** A fake that fails every call with this activity failure. */
export const failsWith =
  (...failure: Parameters<typeof activityFailure>) =>
  async (): Promise<never> => {
    throw activityFailure(...failure);
  };

/** A promise with the function that settles it, for a fake to tell the test it started. */
function signalled(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { promise, fire };
}

/**
 * A fake that does not give its answer until the test releases it: the workflow can be queried and
 * signalled meanwhile.
 */
export function held<T>(answer: T): {
  fake: (input: unknown) => Promise<T>;
  started: Promise<void>;
  release: () => void;
} {
  const started = signalled();
  const released = signalled();
  return {
    fake: async () => {
      started.fire();
      await released.promise;
      return answer;
    },
    started: started.promise,
    release: released.fire,
  };
}

/**
 * A long activity that heartbeats until it is cancelled, as the real streaming ones do (a
 * cancellation reaches an activity only with a heartbeat's answer), and then ends cancelled.
 */
export function runsUntilCancelled(): { fake: () => Promise<never>; started: Promise<void>; cancelled: () => boolean } {
  const started = signalled();
  let cancelled = false;
  const fake = async (): Promise<never> => {
    const ctx = Context.current();
    started.fire();
    const beat = setInterval(() => ctx.heartbeat(), 20);
    try {
      return await ctx.cancelled;
    } catch (error) {
      cancelled = true;
      throw error;
    } finally {
      clearInterval(beat);
    }
  };
  return { fake, started: started.promise, cancelled: () => cancelled };
}

/** Which queue served the activity that is running: a fake asks to tell an agent's work from the main worker's. */
export const servingQueue = (): string => Context.current().info.taskQueue;
