import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';
import { defineWorkflow } from './common.ts';
import { databaseNameSchema } from '../../lib/names.ts';

/** `healthMonitor`: one per database (`health/<db>`), a connection check at the database's interval. */
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

export type HealthStatus = 'unknown' | 'up' | 'down';

export interface HealthState {
  database: string;
  status: HealthStatus;
  /** When the current status began (workflow time). */
  since: string | null;
  consecutiveFailures: number;
  lastProbeAt: string | null;
  lastError: string | null;
  transitions: Array<{ status: 'up' | 'down'; at: string; detail: string | null }>;
}

export const healthMonitorWorkflow = defineWorkflow<HealthMonitorInput, void>('healthMonitor', 'health');

export const healthWorkflowId = (database: string): string => `health/${database}`;

export const uptimeQuery = defineQuery<HealthState>('uptime');
