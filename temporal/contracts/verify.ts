import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { backupIdSchema, defineWorkflow } from './common.ts';
import { databaseNameSchema } from '../../lib/names.ts';

/**
 * Restore verification: `restoreVerifier`, one per database (`verify/<db>`), started by
 * signal-with-start after each backup; `scheduledVerification`, run by the schedule `verify/<db>`,
 * which asks the verifier to prove the newest backup.
 */

/** A request to verify one backup; its row in the catalog exists before the signal is sent. */
export interface VerifyRequest {
  verificationId: string;
  backupId: string;
  trigger: 'backup' | 'schedule' | 'manual';
}

const verifyRequest = z
  .object({
    verificationId: z.string().regex(/^v-[0-9a-z-]{6,64}$/, 'verificationId must look like v-20261123t1030-3f9a1c'),
    backupId: backupIdSchema('backupId'),
    trigger: z.enum(['backup', 'schedule', 'manual']),
  })
  .strict();

export const restoreVerifierInput = z
  .object({
    database: databaseNameSchema,
    /** A request carried over a continue-as-new. */
    pending: verifyRequest.optional(),
  })
  .strict();
export type RestoreVerifierInput = z.input<typeof restoreVerifierInput>;

export const scheduledVerificationInput = z.object({ database: databaseNameSchema }).strict();
export type ScheduledVerificationInput = z.input<typeof scheduledVerificationInput>;

export interface VerifierState {
  database: string;
  running: VerifyRequest | null;
  pending: VerifyRequest | null;
  /** The latest finished verification of this run of the workflow. */
  last: { verificationId: string; backupId: string; status: string; reason: string | null; finishedAt: string } | null;
  superseded: number;
}

export const restoreVerifierWorkflow = defineWorkflow<RestoreVerifierInput, void>('restoreVerifier', 'verify');
export const scheduledVerificationWorkflow = defineWorkflow<
  ScheduledVerificationInput,
  { verificationId: string | null }
>('scheduledVerification', 'verify');

export const verifierWorkflowId = (database: string): string => `verify/${database}`;
export const verifyScheduleId = (database: string): string => `verify/${database}`;

/** A verification id that sorts by request time and says what asked for it. */
export function newVerificationId(now: Date, random: string): string {
  return `v-${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')
    .toLowerCase()}-${random}`;
}

/** Latest wins: a pending request is replaced (and recorded superseded) by a newer one. */
export const backupCompletedSignal = defineSignal<[VerifyRequest]>('backupCompleted');
export const lastVerificationQuery = defineQuery<VerifierState>('last');
