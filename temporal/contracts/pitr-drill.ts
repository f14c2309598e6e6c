import { z } from 'zod';
import { defineWorkflow } from './common.ts';
import { NAME_RULE, nameSchema } from '../../lib/names.ts';
import type { DrillCheck } from '../../lib/pitr/drill-checks.ts';
import { drillOptionsSchema, type DrillTarget } from '../../lib/pitr/drill-targets.ts';
import type { RestoreFigures } from '../../lib/pitr/restore-figures.ts';

export type { DrillTarget } from '../../lib/pitr/drill-targets.ts';

/**
 * `pitrDrill` (`pitrdrill/<server>/<iso-time>`, or the schedule `pitrdrill/<server>`): restores the
 * server's PITR archive into a sandbox to a random time inside each recoverable window and to the
 * newest point, checks each restore (target reached, pg_verifybackup, pg_amcheck) and records it
 * (docs/pitr.md, "Drills").
 */
export const pitrDrillInput = z
  .object({
    server: nameSchema(`server must be a registered server name: ${NAME_RULE}`),
    trigger: z.enum(['manual', 'schedule']).default('schedule'),
  })
  .extend(drillOptionsSchema.shape)
  .strict();
export type PitrDrillInput = z.input<typeof pitrDrillInput>;

/** What the planning activity gives the workflow. */
export interface PitrDrillPlan {
  server: string;
  /** The database record that carries the server's archive. */
  database: string;
  segmentSize: number;
  targets: DrillTarget[];
}

/** One target's drill as recorded. */
export interface PitrDrillResult {
  id: number;
  window: string;
  target: string;
  outcome: 'passed' | 'failed';
  error: string | null;
  reachedLsn: string | null;
  reachedTime: string | null;
  verifyBackup: DrillCheck | null;
  amcheck: DrillCheck | null;
  figures: RestoreFigures | null;
}

export interface PitrDrillOutcome {
  server: string;
  drills: PitrDrillResult[];
  /** After this run: the latest target a passed drill recovered to. */
  provenUpTo: string | null;
  passed: boolean;
}

export const pitrDrillWorkflow = defineWorkflow<PitrDrillInput, PitrDrillOutcome>('pitrDrill', 'verify');
export const pitrDrillWorkflowId = (server: string, at: Date): string => `pitrdrill/${server}/${at.toISOString()}`;
export const pitrDrillScheduleId = (server: string): string => `pitrdrill/${server}`;
/** Weekly, early on Sunday: what a server with PITR drills on unless set otherwise. */
export const DEFAULT_DRILL_CRON = '17 4 * * 0';
