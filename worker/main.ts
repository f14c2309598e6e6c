import { Runtime as TemporalRuntime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { agentNameSchema } from '../lib/names.ts';
import { openRuntime, type Runtime } from '../services/runtime.ts';
import { upsertCatalogBackupSchedule } from '../temporal/catalog-backup.ts';
import { upsertCatalogMaintenanceSchedule } from '../temporal/catalog-maintenance.ts';
import { syncAllDrillSchedules } from '../services/servers/drills.ts';
import { connectTemporalClient } from '../temporal/client.ts';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createHindsightWorker, defaultBudget, type AgentBudget, type WorkerRoles } from './create-worker.ts';
import { createWorkerMetrics, startMetricsServer } from './metrics.ts';
import { handleProcessErrors } from './process-errors.ts';

const logger = createLogger('worker');
/** Set once the worker has stopped taking work: from then on its connections close. */
let stopping = false;
handleProcessErrors(logger, () => stopping);

TemporalRuntime.install({
  logger: {
    // The SDK's own INFO lines (bundle statistics, state changes) are noise to an operator.
    log: (level, message, meta) => {
      const method = level === 'ERROR' ? 'error' : level === 'WARN' ? 'warn' : 'debug';
      logger[method](meta ?? {}, message);
    },
    trace: () => undefined,
    debug: (m, meta) => logger.debug(meta ?? {}, m),
    info: (m, meta) => logger.debug(meta ?? {}, m),
    warn: (m, meta) => logger.warn(meta ?? {}, m),
    error: (m, meta) => logger.error(meta ?? {}, m),
  },
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
});

const usage = `usage: worker [--role all|main|verify|none] [--agent NAME] [--max-cpu N] [--max-ram-mb N] [--max-disk-gb N] [--max-concurrent-jobs N] [--sandbox-root DIR] [--shutdown-grace-seconds N]`;

const flagsSchema = z.object({
  role: z.enum(['all', 'main', 'verify', 'none']).optional(),
  agent: agentNameSchema('--agent must be a name of letters, digits, "_", "." or "-"').optional(),
  'max-cpu': z.coerce.number().positive('--max-cpu must be a positive number').optional(),
  'max-ram-mb': z.coerce.number().int().min(512, '--max-ram-mb must be at least 512 (one sandbox)').optional(),
  'max-disk-gb': z.coerce.number().positive('--max-disk-gb must be a positive number').optional(),
  'max-concurrent-jobs': z.coerce.number().int().min(1, '--max-concurrent-jobs must be at least 1').optional(),
  'sandbox-root': z.string().min(1).optional(),
  'shutdown-grace-seconds': z.coerce.number().int().min(0, '--shutdown-grace-seconds must be 0 or more').optional(),
});

function parseFlags(sandboxRoot: string): {
  roles: WorkerRoles;
  budget: AgentBudget;
  shutdownGraceSeconds: number | undefined;
} {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      agent: { type: 'string' },
      'max-cpu': { type: 'string' },
      'max-ram-mb': { type: 'string' },
      'max-disk-gb': { type: 'string' },
      'max-concurrent-jobs': { type: 'string' },
      'sandbox-root': { type: 'string' },
      'shutdown-grace-seconds': { type: 'string' },
    },
  });
  const parsed = flagsSchema.safeParse(values);
  if (!parsed.success) throw new Error(`${parsed.error.issues.map((i) => i.message).join('; ')}\n${usage}`);
  const f = parsed.data;
  const base = defaultBudget(sandboxRoot);
  return {
    // An agent on a database host serves only its own queue unless a role is asked for as well.
    roles: (() => {
      const role = f.role ?? (f.agent ? 'none' : 'all');
      if (role === 'none' && !f.agent) throw new Error(`--role none leaves nothing to do without --agent\n${usage}`);
      return { main: role === 'all' || role === 'main', verify: role === 'all' || role === 'verify', agent: f.agent };
    })(),
    shutdownGraceSeconds: f['shutdown-grace-seconds'],
    budget: {
      maxCpu: f['max-cpu'] ?? base.maxCpu,
      maxRamMb: f['max-ram-mb'] ?? base.maxRamMb,
      maxDiskGb: f['max-disk-gb'] ?? base.maxDiskGb,
      maxConcurrentJobs: f['max-concurrent-jobs'],
      sandboxRoot: f['sandbox-root'] ?? base.sandboxRoot,
    },
  };
}

/**
 * The schedules `catalog-backup` on HINDSIGHT_CATALOG_BACKUP_CRON and `catalog-maintenance` on
 * HINDSIGHT_CATALOG_MAINTENANCE_CRON, and each server's PITR drill schedule, made by every main worker at start: in a deployment without `npm start`, the worker is what always runs. Not fatal.
 */
async function ensureCatalogBackupSchedule(runtime: Runtime): Promise<void> {
  try {
    const client = await connectTemporalClient(runtime.config, runtime);
    try {
      await upsertCatalogBackupSchedule(client, runtime.config);
      await upsertCatalogMaintenanceSchedule(client, runtime.config);
      await syncAllDrillSchedules({ temporal: client, runtime });
    } finally {
      await client.connection.close();
    }
  } catch (error) {
    logger.warn(
      { err: error },
      'the catalog backup, maintenance and PITR drill schedules could not be set; the catalog backs itself up after changes only',
    );
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const { roles, budget, shutdownGraceSeconds } = parseFlags(config.sandboxRoot);
  const runtime = await openRuntime(config);
  const metrics = config.workerMetricsPort !== undefined ? createWorkerMetrics() : undefined;
  const worker = await createHindsightWorker(runtime, logger, {
    roles,
    budget,
    shutdownGraceSeconds,
    ...(metrics ? { interceptors: { activity: [metrics.activityInterceptor] } } : {}),
  });
  metrics?.watchWorkers(worker.workers);
  if (roles.main) await ensureCatalogBackupSchedule(runtime);
  const close = worker.close;
  const metricsServer = metrics
    ? await startMetricsServer(metrics.registry, {
        host: config.webHost,
        port: config.workerMetricsPort!,
        token: config.metricsToken,
      })
    : undefined;
  if (metricsServer) logger.info(`worker metrics on ${metricsServer.url}/metrics`);
  logger.info({ taskQueue: config.taskQueue, temporal: config.temporalAddress, roles }, 'worker ready');
  await worker.run();
  stopping = true;
  await metricsServer?.close();
  await close();
  await runtime.close();
  logger.info('worker stopped');
}

main().catch((error: unknown) => {
  logger.error({ err: error }, 'worker failed');
  process.exit(1);
});
