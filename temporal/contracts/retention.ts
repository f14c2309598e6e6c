import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';
import { defineWorkflow } from './common.ts';
import { databaseNameSchema } from '../../lib/names.ts';
import type { CopyDeleteDecision, StoragePlan, WalTimelineCut } from '../../lib/retention/plan-types.ts';

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
  /** The PITR archive's part (absent in runs begun before retention pruned archives). */
  keepBaseBackups?: Array<{ id: string; reasons: string[] }>;
  deleteBaseBackups?: Array<{ id: string; reason: string }>;
  walCuts?: WalTimelineCut[];
  deleteHistories?: number[];
  walRefusal?: string | null;
  /** With a per-storage policy: each storage's decisions, and the copies that go while their backup stays. */
  storages?: StoragePlan[];
  deleteCopies?: CopyDeleteDecision[];
}

export interface RetentionOutcome {
  database: string;
  dryRun: boolean;
  kept: number;
  deleted: string[];
  skipped: Array<{ id: string; why: string }>;
  summary: string;
  /** Base backups removed from the PITR archive, and those a fresh look kept after all. */
  deletedBaseBackups?: string[];
  skippedBaseBackups?: Array<{ id: string; why: string }>;
  /** WAL segments (catalog rows), objects, WAL index batches and history files removed. */
  wal?: { segments: number; objects: number; indexBatches: number; histories: number };
  /** Copies removed from one storage by its own policy (their backups stay restorable from another). */
  deletedCopies?: Array<{ id: string; storage: string }>;
}

export const gfsRetentionWorkflow = defineWorkflow<GfsRetentionInput, RetentionOutcome>('gfsRetention', 'retention');

export const retentionWorkflowId = (database: string, at: Date): string => `retention/${database}/${at.toISOString()}`;
export const retentionScheduleId = (database: string): string => `retention/${database}`;

export const retentionPlanQuery = defineQuery<RetentionPlanView | null>('plan');
