import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * Signals and queries of the backup and restore workflows. The console and CLI import this module
 * (it holds no workflow code) and address workflows by type name.
 */
export type BackupStage = 'starting' | 'hooks' | 'checking' | 'dumping' | 'copying' | 'complete' | 'partial' | 'failed' | 'cancelled';

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

export interface RestoreOutcome {
  restoreId: string;
  backupId: string;
  /** The storage the backup was read from. */
  storageName: string;
  database: string;
  target: string;
  tablesChecked: number;
  rowsChecked: number;
  /** E.g. a post_restore hook that failed; the restore itself succeeded. */
  warnings?: string[];
}

export const TASK_QUEUE_DEFAULT = 'hindsight';
export const workflowTypes = { backupDatabase: 'backupDatabase', restoreBackup: 'restoreBackup', replicateBackup: 'replicateBackup', restoreVerifier: 'restoreVerifier' } as const;

/** Restores for verification run on the agents' own task queue, `<queue>-verify`, where the sandbox budget applies. */
export const VERIFY_TASK_QUEUE_SUFFIX = '-verify';

/** A request to verify one backup; its row in the catalog exists before the signal is sent. */
export interface VerifyRequest {
  verificationId: string;
  backupId: string;
  trigger: 'backup' | 'schedule' | 'manual';
}

export interface VerifierState {
  database: string;
  running: VerifyRequest | null;
  pending: VerifyRequest | null;
  /** The latest finished verification of this run of the workflow. */
  last: { verificationId: string; backupId: string; status: string; reason: string | null; finishedAt: string } | null;
  superseded: number;
}

/** Latest wins: a pending request is replaced (and recorded superseded) by a newer one. */
export const backupCompletedSignal = defineSignal<[VerifyRequest]>('backupCompleted');
export const lastVerificationQuery = defineQuery<VerifierState>('last');

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

export const uptimeQuery = defineQuery<HealthState>('uptime');

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

export const retentionPlanQuery = defineQuery<RetentionPlanView | null>('plan');
