/**
 * How a workflow test drives one run and reads how it ended: its failure as the client decoded it,
 * a real-time wait for work that needs no timer, and a run acted on while its long activity waits.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import type { WorkflowContract } from '../../temporal/contracts/common.ts';
import type { held, Recording, runsUntilCancelled } from './fakes.ts';
import type { Handle, WorkflowTestPlatform } from './support.ts';

/** The failure a run ended with, as the client decoded it: an ApplicationFailure or a CancelledFailure. */
export type RunFailure = Error & { type?: string | null; nonRetryable?: boolean };
export async function failureOf(outcome: Promise<unknown>): Promise<RunFailure> {
  const error = await outcome.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof WorkflowFailedError, `the run failed: ${String(error)}`);
  assert.ok(error.cause instanceof Error, `the failure has a cause: ${String(error.cause)}`);
  return error.cause;
}

/**
 * Waits, in real time, until `check` holds: for work that needs no timer, such as a child run
 * finishing. Awaiting a child's result instead would let the server skip time meanwhile.
 */
export async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let waited = 0; !(await check()); waited += 20) {
    if (waited > 10_000) throw new Error(`${what} did not happen within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A workflow to start and its input. */
export type Start<I, O> = [contract: WorkflowContract<I, O>, input: I];

/** Starts a run with these fakes and acts on it once its long activity has started. */
function onceRunning<I, O, R>(
  platform: WorkflowTestPlatform,
  fake: Recording,
  started: Promise<void>,
  start: Start<I, O>,
  act: (handle: Handle<I, O>) => Promise<R>,
): Promise<R> {
  return platform.run(fake, async (jobs) => {
    const handle = await jobs.start(...start);
    await started;
    return act(handle);
  });
}

/**
 * Runs one workflow with these fakes, lets `during` query and signal it while its held activity
 * waits, then lets the activity answer and returns the run's outcome.
 */
export function whileHeld<I, O, T>(
  platform: WorkflowTestPlatform,
  fake: Recording,
  activity: ReturnType<typeof held<T>>,
  start: Start<I, O>,
  during: (handle: Handle<I, O>) => Promise<void>,
): Promise<{ handle: Handle<I, O>; outcome: O }> {
  return onceRunning(platform, fake, activity.started, start, async (handle) => {
    await during(handle);
    activity.release();
    return { handle, outcome: await handle.result() };
  });
}

/**
 * Runs one workflow with these fakes, interrupts it (an abort signal, a cancellation) once its long
 * activity runs, and returns how the run ended. The activity must have seen the cancellation: an
 * activity left running would keep its run's cancellation waiting.
 */
export function interrupted<I, O>(
  platform: WorkflowTestPlatform,
  fake: Recording,
  activity: ReturnType<typeof runsUntilCancelled>,
  start: Start<I, O>,
  interrupt: (handle: Handle<I, O>) => Promise<unknown>,
): Promise<{ handle: Handle<I, O>; failure: RunFailure }> {
  return onceRunning(platform, fake, activity.started, start, async (handle) => {
    await interrupt(handle);
    const failure = await failureOf(handle.result());
    assert.ok(activity.cancelled(), 'the activity saw the cancellation');
    return { handle, failure };
  });
}
