import { proxyActivities } from '@temporalio/workflow';
import type { Duration, RetryPolicy } from '@temporalio/common';
import type { Activities } from '../activities/index.ts';

/**
 * Error kinds (lib/errors.ts) that no retry can fix: they fail the run at once with their message.
 * `unreachable`, `busy` and `tool_failed` are retried.
 */
export const permanentErrorTypes = ['bad_input', 'not_found', 'access_denied', 'integrity', 'conflict', 'no_space'];

/** Catalog bookkeeping and other short calls. */
export const catalogActivities = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: permanentErrorTypes,
  },
});

/** A source that is down is retried four times within about 15 s, then the run fails with the cause. */
export const sourceProbeActivities = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '15 seconds',
    maximumAttempts: 4,
    nonRetryableErrorTypes: permanentErrorTypes,
  },
});

/**
 * pg_dump and pg_restore can run for hours. A worker that dies stops heartbeating, and after the
 * heartbeat timeout the activity starts again on another worker. Cancellation waits for the
 * activity to clean up (kill the tool, discard the partial object) before the workflow goes on.
 */
export function streamingActivities(heartbeatTimeout: Duration, maximumAttempts: number) {
  return longActivities({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout,
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts },
  });
}

/**
 * Copying a backup between storages: a storage that is down gets a few tries spread over minutes.
 * A full or refusing storage (no_space, access_denied) is not retried: it needs a person.
 */
export function copyActivities(maximumAttempts: number) {
  return longActivities({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '10 seconds', backoffCoefficient: 3, maximumInterval: '10 minutes', maximumAttempts },
  });
}

/** What a long activity's proxy sets besides the fixed parts: where it runs, how long, how it retries. */
interface LongActivityOptions {
  taskQueue?: string;
  startToCloseTimeout: Duration;
  scheduleToStartTimeout?: Duration;
  heartbeatTimeout: Duration;
  retry: Omit<RetryPolicy, 'nonRetryableErrorTypes'>;
}

/**
 * A long activity on a database's host or a sandbox: it heartbeats, so a worker that dies is
 * noticed within the heartbeat timeout; permanent errors are never retried; cancellation waits
 * for the activity to clean up.
 */
export function longActivities(options: LongActivityOptions) {
  return proxyActivities<Activities>({
    ...options,
    retry: { ...options.retry, nonRetryableErrorTypes: permanentErrorTypes },
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  });
}

/** A job that holds a host for hours (a base backup, a sandbox restore): three attempts, minutes apart. */
export const HOST_JOB_RETRY = {
  initialInterval: '10 seconds',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  maximumAttempts: 3,
} as const;
