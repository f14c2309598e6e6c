/**
 * What the worker program does with an error nothing awaited. The Temporal client retries a call
 * that failed because the server went away (its gRPC retry interceptor re-issues it from a timer);
 * when the worker closes that client while a retry is pending, the retry throws "Channel has been
 * shut down" from the timer, outside any await. Once the worker is stopping that is expected and
 * harmless. Any other such error ends the worker with its message (exit 1), so that whoever runs
 * it (`npm start`'s supervisor, systemd, Kubernetes) starts it again.
 */
import type { Logger } from '../lib/logger.ts';

/** The gRPC error of a call made on a connection already closed. */
export const isClosedChannelError = (error: unknown): boolean =>
  error instanceof Error && /Channel has been shut down/.test(error.message);

/** Whether an error nothing awaited is expected now, given whether the worker is stopping. */
export const isExpectedLateError = (error: unknown, stopping: boolean): boolean =>
  stopping && isClosedChannelError(error);

/** Installs the handlers; `stopping()` says whether the worker has begun to stop. */
export function handleProcessErrors(logger: Logger, stopping: () => boolean): void {
  const handle = (error: unknown) => {
    if (isExpectedLateError(error, stopping())) {
      logger.debug({ err: error }, 'a Temporal call retried after the worker closed its connection; dropped');
      return;
    }
    logger.error({ err: error }, 'worker failed: an error no task handled; exiting so that it is started again');
    process.exit(1);
  };
  process.on('uncaughtException', handle);
  process.on('unhandledRejection', handle);
}
