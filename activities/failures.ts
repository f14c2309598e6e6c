import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { HindsightError, errorMessage } from '../lib/errors.ts';

/**
 * Translates domain errors at the activity edge: the error kind becomes the failure type, and
 * permanent kinds are non-retryable so that a wrong password fails the workflow at once instead of
 * retrying forever.
 */
export function toActivityFailure(error: unknown): unknown {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof HindsightError) {
    return ApplicationFailure.create({ message: error.message, type: error.kind, nonRetryable: !error.retryable });
  }
  if ((error as { name?: string }).name === 'CancelledFailure') return error;
  return ApplicationFailure.create({ message: errorMessage(error), type: 'unexpected', nonRetryable: false });
}

export async function translated<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // A cancelled activity must report cancellation, not a (retryable) failure of its pipeline.
    if (Context.current().cancellationSignal.aborted) throw new CancelledFailure('cancelled by request', undefined, error as Error);
    throw toActivityFailure(error);
  }
}
