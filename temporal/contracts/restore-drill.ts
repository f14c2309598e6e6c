import { z } from 'zod';
import { defineWorkflow } from './common.ts';
import { databaseNameSchema } from '../../lib/names.ts';

/**
 * Restore drills: `restoreDrill` restores a database's newest complete backup into a fresh database
 * on the drill's target server, times it, checks it against the manifest and drops it. Started by
 * the schedule `restore-drill/<db>` or on request (`restore-drill/<db>/manual-<time>`).
 */
export const restoreDrillInput = z
  .object({
    database: databaseNameSchema,
    trigger: z.enum(['schedule', 'manual']).default('schedule'),
  })
  .strict();
export type RestoreDrillInput = z.input<typeof restoreDrillInput>;

export interface RestoreDrillOutcome {
  drillId: string;
  status: 'successful' | 'failed';
  error: string | null;
}

export const restoreDrillWorkflow = defineWorkflow<RestoreDrillInput, RestoreDrillOutcome>('restoreDrill', 'verify');

export const restoreDrillScheduleId = (database: string): string => `restore-drill/${database}`;

/** A drill asked for now: its own run beside the schedule's. */
export const manualDrillWorkflowId = (database: string, now: Date): string =>
  `restore-drill/${database}/manual-${now.toISOString().replace(/[-:.]/g, '').toLowerCase()}`;

/** Every database a drill creates starts with this, so a later drill finds those a crash left behind. */
export const DRILL_DATABASE_PREFIX = 'hindsight_drill_';
