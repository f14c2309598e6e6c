import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { HindsightError, errorMessage } from '../lib/errors.ts';

/**
 * Translates domain errors at the activity edge: the error kind becomes the failure type, and
 * permanent kinds are non-retryable so that a wrong password fails the workflow at once instead of
 * retrying forever. Anything else is an `unexpected`, retryable failure with the error's message.
 */
export function toActivityFailure(error: unknown): unknown {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof HindsightError) {
    return ApplicationFailure.create({ message: error.message, type: error.kind, nonRetryable: !error.retryable });
  }
  if ((error as { name?: string } | null)?.name === 'CancelledFailure') return error;
  return ApplicationFailure.create({ message: errorMessage(error), type: 'unexpected', nonRetryable: false });
}

/** What an activity's error becomes: a cancelled activity reports cancellation, not a (retryable) failure of its pipeline. */
export function translateActivityError(error: unknown, cancelled: boolean): unknown {
  if (cancelled) return new CancelledFailure('cancelled by request', undefined, error as Error);
  return toActivityFailure(error);
}
