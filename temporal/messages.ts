import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * Signals and queries of the backup and restore workflows. The console and CLI import this module
 * (it holds no workflow code) and address workflows by type name.
 */
export type BackupStage = 'starting' | 'checking' | 'dumping' | 'copying' | 'complete' | 'partial' | 'failed' | 'cancelled';

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

export const backupProgressQuery = defineQuery<BackupProgress>('progress');
export const cancelBackupSignal = defineSignal<[reason?: string]>('cancel');
/** Sent by the dump activity so that `progress` shows bytes while the activity runs. */
export const backupProgressSignal = defineSignal<[ProgressReport]>('reportProgress');

export type RestoreStage = 'starting' | 'preparing' | 'restoring' | 'verifying' | 'verified' | 'failed' | 'aborted';

export interface RestoreProgress {
  restoreId: string;
  backupId: string | null;
  database: string;
  stage: RestoreStage;
  readBytes: number;
  restoredBytes: number;
  error: string | null;
}

export const restoreProgressQuery = defineQuery<RestoreProgress>('progress');
export const abortRestoreSignal = defineSignal<[reason?: string]>('abort');
export const restoreProgressSignal = defineSignal<[{ readBytes: number; restoredBytes: number }]>('reportProgress');

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

export interface RestoreOutcome {
  restoreId: string;
  backupId: string;
  /** The storage the backup was read from. */
  storageName: string;
  database: string;
  target: string;
  tablesChecked: number;
  rowsChecked: number;
}

export const TASK_QUEUE_DEFAULT = 'hindsight';
export const workflowTypes = { backupDatabase: 'backupDatabase', restoreBackup: 'restoreBackup', replicateBackup: 'replicateBackup' } as const;
