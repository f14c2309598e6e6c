import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';
import { defineWorkflow } from './common.ts';
import { databaseNameSchema } from '../../lib/names.ts';

/**
 * `healthMonitor`: one per database (`health/<db>`), as earlier versions ran it. It stays
 * registered so that runs recorded before the upgrade replay, but nothing starts it: the platform's
 * startup ends those still running and carries their state into the catalog.
 */
export const healthMonitorInput = z
  .object({
    database: databaseNameSchema,
    /** What a continue-as-new carries over. */
    carried: z
      .object({
        status: z.enum(['unknown', 'up', 'down']),
        since: z.string().nullable(),
        consecutiveFailures: z.number().int().min(0),
      })
      .optional(),
  })
  .strict();
export type HealthMonitorInput = z.input<typeof healthMonitorInput>;

import type { HealthState } from '../../lib/catalog/health-rules.ts';

export type { HealthState, HealthStatus } from '../../lib/catalog/health-rules.ts';

export const healthMonitorWorkflow = defineWorkflow<HealthMonitorInput, void>('healthMonitor', 'health');

export const healthWorkflowId = (database: string): string => `health/${database}`;

/** What an earlier version's `healthMonitor` answers: its state, carried into the catalog at the upgrade. */
export const uptimeQuery = defineQuery<HealthState>('uptime');

/**
 * `healthSweep`: one short run a minute from the schedule HEALTH_SWEEP_SCHEDULE_ID. Within its
 * window it checks the databases whose interval has passed, in batches of `batchSize`, at most
 * `concurrency` batches at once; the state lives in the catalog (`database_health`), so no
 * workflow is kept per database.
 */
export const healthSweepInput = z
  .object({
    /**
     * How long the run keeps checking databases as they come due. By default until just before
     * the schedule's next minute, so that the next run is never skipped as an overlap.
     */
    windowSeconds: z.number().int().min(1).max(600).optional(),
    batchSize: z.number().int().min(1).max(1000).default(200),
    concurrency: z.number().int().min(1).max(32).default(4),
  })
  .strict();
export type HealthSweepInput = z.input<typeof healthSweepInput>;

export interface HealthSweepOutcome {
  probed: number;
  batches: number;
  transitions: number;
  /** Batches whose every try failed (the catalog unreachable): their databases are due again next time. */
  failedBatches: number;
}

export const healthSweepWorkflow = defineWorkflow<HealthSweepInput, HealthSweepOutcome>('healthSweep', 'health');

export const HEALTH_SWEEP_SCHEDULE_ID = 'health-sweep';
/** How often the schedule starts a sweep; each run checks for its window, so gaps stay short. */
export const HEALTH_SWEEP_EVERY = '1 minute' as const;
export const HEALTH_SWEEP_EVERY_MS = 60_000;
