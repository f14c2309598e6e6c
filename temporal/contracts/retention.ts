import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';
import { defineWorkflow } from './common.ts';
import { databaseNameSchema } from '../../lib/names.ts';

/** `gfsRetention`: prunes a database's backups by its policy, daily by the schedule `retention/<db>` or on request (`retention/<db>/<iso-time>`). */
export const gfsRetentionInput = z
  .object({
    database: databaseNameSchema,
    /** Plan only: the `plan` query and the result show what would go, nothing is deleted. */
    dryRun: z.boolean().default(false),
  })
  .strict();
export type GfsRetentionInput = z.input<typeof gfsRetentionInput>;

/** The retention plan as the `plan` query shows it: what is kept and deleted, and why. */
export interface RetentionPlanView {
  keep: Array<{ id: string; reasons: string[] }>;
  delete: Array<{ id: string; reason: string }>;
  summary: string;
}

export interface RetentionOutcome {
  database: string;
  dryRun: boolean;
  kept: number;
  deleted: string[];
  skipped: Array<{ id: string; why: string }>;
  summary: string;
}

export const gfsRetentionWorkflow = defineWorkflow<GfsRetentionInput, RetentionOutcome>('gfsRetention', 'retention');

export const retentionWorkflowId = (database: string, at: Date): string => `retention/${database}/${at.toISOString()}`;
export const retentionScheduleId = (database: string): string => `retention/${database}`;

export const retentionPlanQuery = defineQuery<RetentionPlanView | null>('plan');
