import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { PROGRESS_SIGNAL, backupIdSchema, defineWorkflow } from './common.ts';
import { databaseNameSchema, nameSchema } from '../../lib/names.ts';

/**
 * Logical backups: `backupDatabase` (one pg_dump to every storage, `backup/<db>/<iso-time>`, also
 * run by the schedule `backup/<db>`) and `replicateBackup` (copies a backup into the storages that
 * missed it, or into the storages named, `replicate/<backup id>/<iso-time>`).
 */
export const backupDatabaseInput = z
  .object({
    database: databaseNameSchema,
    trigger: z.enum(['manual', 'schedule', 'demo']).default('schedule'),
    backupId: backupIdSchema('backupId').optional(),
  })
  .strict();
export type BackupDatabaseInput = z.input<typeof backupDatabaseInput>;

export const replicateBackupInput = z
  .object({
    database: databaseNameSchema,
    backupId: backupIdSchema('backupId'),
    /** The storages to copy into (e.g. one added after the backup); default: those that missed it. */
    storages: z
      .array(nameSchema('storages must name storages: lowercase letters, digits, "_" or "-"'))
      .min(1, 'storages must name at least one storage, or be left out')
      .optional(),
  })
  .strict();
export type ReplicateBackupInput = z.input<typeof replicateBackupInput>;

export type BackupStage =
  'starting' | 'hooks' | 'checking' | 'dumping' | 'copying' | 'complete' | 'partial' | 'failed' | 'cancelled';

export interface BackupProgress {
  backupId: string;
  database: string;
  stage: BackupStage;
  dumpBytes: number;
  storedBytes: number;
  updatedAt: string | null;
  error: string | null;
}

export interface ProgressReport {
  dumpBytes: number;
  storedBytes: number;
}

/** One storage's copy of a backup, as a workflow reports it. */
export interface CopyReport {
  storageName: string;
  status: 'complete' | 'failed';
  sizeBytes?: number;
  error?: string;
}

export interface BackupOutcome {
  backupId: string;
  database: string;
  /** partial: at least one storage holds the backup whole, at least one does not. */
  status: 'complete' | 'partial' | 'cancelled';
  /** Why a cancelled backup was cancelled (e.g. the output of a failed pre_backup hook). */
  reason?: string;
  /** What left the backup usable but deserves a look, e.g. a post_backup hook that failed. */
  warnings?: string[];
  copies: CopyReport[];
  sizeBytes: number;
  dumpBytes: number;
  sha256: string;
  tables: number;
  rows: number;
}

export interface ReplicateOutcome {
  backupId: string;
  database: string;
  status: 'complete' | 'partial' | 'failed';
  copies: CopyReport[];
}

export const backupDatabaseWorkflow = defineWorkflow<BackupDatabaseInput, BackupOutcome>('backupDatabase', 'backup');
export const replicateBackupWorkflow = defineWorkflow<ReplicateBackupInput, ReplicateOutcome>(
  'replicateBackup',
  'replicate',
);

export const backupWorkflowId = (database: string, at: Date): string => `backup/${database}/${at.toISOString()}`;
export const backupScheduleId = (database: string): string => `backup/${database}`;
export const replicateWorkflowId = (backupId: string, at: Date): string => `replicate/${backupId}/${at.toISOString()}`;

export const backupProgressQuery = defineQuery<BackupProgress>('progress');
export const cancelBackupSignal = defineSignal<[reason?: string]>('cancel');
/** Sent by the dump activity so that `progress` shows bytes while the activity runs. */
export const backupProgressSignal = defineSignal<[ProgressReport]>(PROGRESS_SIGNAL);
