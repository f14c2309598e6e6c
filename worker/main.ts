import { Runtime as TemporalRuntime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { openRuntime } from '../services/runtime.ts';
import { createHindsightWorker } from './create-worker.ts';

const logger = createLogger('worker');

TemporalRuntime.install({
  logger: {
    // The SDK's own INFO lines (bundle statistics, state changes) are noise to an operator.
    log: (level, message, meta) => {
      const method = level === 'ERROR' ? 'error' : level === 'WARN' ? 'warn' : 'debug';
      logger[method](meta ?? {}, message);
    },
    trace: () => undefined, debug: (m, meta) => logger.debug(meta ?? {}, m),
    info: (m, meta) => logger.debug(meta ?? {}, m), warn: (m, meta) => logger.warn(meta ?? {}, m), error: (m, meta) => logger.error(meta ?? {}, m),
  },
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
});

async function main(): Promise<void> {
  const config = loadConfig();
  const runtime = await openRuntime(config);
  const { worker, close } = await createHindsightWorker(runtime, logger);
  logger.info({ taskQueue: config.taskQueue, temporal: config.temporalAddress }, 'worker ready');
  await worker.run();
  await close();
  await runtime.close();
  logger.info('worker stopped');
}

main().catch((error: unknown) => {
  logger.error({ err: error }, 'worker failed');
  process.exit(1);
});
