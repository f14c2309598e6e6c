import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Logger } from '../lib/logger.ts';
import { translateActivityError } from './failures.ts';
import { ProgressReporter, attachProgressReporter, type ProgressSink } from './progress.ts';

/**
 * What every Hindsight activity shares, done once around each execution instead of inside each
 * activity: its progress reporter (heartbeats, and signals to its workflow through `progress`), and
 * the translation of what it throws (HindsightError and the rest) into Temporal failures
 * (failures.ts). Register it last in `interceptors.activity`, so that interceptors before it (the
 * worker's metrics) see the translated failure.
 */
export function hindsightActivityInterceptor(options: {
  progress?: ProgressSink | undefined;
  logger?: Logger;
}): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        attachProgressReporter(ctx, new ProgressReporter(ctx, options.progress, options.logger));
        try {
          return await next(input);
        } catch (error) {
          throw translateActivityError(error, ctx.cancellationSignal.aborted);
        }
      },
    },
  });
}
