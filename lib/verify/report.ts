/** A verification's status; `superseded` means a newer backup took its place before it ran. */
export type VerificationStatus = 'pending' | 'running' | 'successful' | 'failed' | 'superseded' | 'cancelled';

export type VerificationStage = 'checksum' | 'sandbox' | 'restore' | 'count' | 'compare' | 'cleanup';

export interface StageRecord {
  stage: VerificationStage;
  startedAt: string;
  finishedAt: string | null;
  ok: boolean | null;
  detail?: string;
}

export interface TableComparison {
  schema: string;
  table: string;
  expected: number | null;
  restored: number | null;
  ok: boolean;
}

/** Everything a person needs to trust a backup, or to see first why not. */
export interface VerificationReport {
  /** For a failure, the reason a person should read first. */
  reason: string | null;
  stages: StageRecord[];
  storageName: string | null;
  sandbox: { driver: string; major: number } | null;
  restore: { exitCode: number | null; stderrTail: string } | null;
  sourceSizeBytes: number | null;
  restoredSizeBytes: number | null;
  schemas: number | null;
  tables: number | null;
  expectedRows: number | null;
  restoredRows: number | null;
  /** Every table, mismatches first. */
  comparisons: TableComparison[];
  mismatches: number;
}

export interface VerificationSummary {
  id: string;
  database: string;
  backupId: string | null;
  trigger: string;
  status: VerificationStatus;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  reason: string | null;
  report: VerificationReport | null;
}

export function emptyReport(): VerificationReport {
  return {
    reason: null, stages: [], storageName: null, sandbox: null, restore: null, sourceSizeBytes: null, restoredSizeBytes: null,
    schemas: null, tables: null, expectedRows: null, restoredRows: null, comparisons: [], mismatches: 0,
  };
}
