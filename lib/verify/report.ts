import type { IndexCheckReport } from './index-check.ts';

/** A verification's status; `superseded` means a newer backup took its place before it ran. */
/** `skipped`: nothing here could decrypt the backup (public-key mode without the identity file); the reason says so. */
export type VerificationStatus =
  'pending' | 'running' | 'successful' | 'failed' | 'superseded' | 'cancelled' | 'skipped';

export type VerificationStage = 'checksum' | 'sandbox' | 'restore' | 'count' | 'compare' | 'indexes' | 'cleanup';

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
  /**
   * The content checksum (lib/pg/table-checksums.ts) of the manifest and of the restored copy, when
   * the manifest has one: `full` hashes every row, `sample` the rows its primary key picks, `none`
   * says why a large table was only counted.
   */
  checksum?: { scope: 'full' | 'sample' | 'none'; expected: string | null; restored: string | null };
}

/** One entry of the archive that did not load, by type and name, and why. */
export interface LoadItem {
  /** The archive's entry type: TABLE DATA, EVENT TRIGGER, INDEX, FUNCTION… */
  type: string;
  /** schema.name, as the archive's list shows it. */
  name: string;
  reason: string;
}

/**
 * How the dump was loaded: as a role without privileges, so that nothing in it runs with more.
 * What that role cannot create is `skipped` (left out beforehand) or `refused` (the server said
 * no); neither is a failure of the backup. `failed` holds what is: data that did not load.
 */
export interface LoadReport {
  role: string;
  /** Entries in the archive's table of contents. */
  entries: number;
  /** Extensions made by the sandbox's superuser from its own extension files. */
  extensions: string[];
  skipped: LoadItem[];
  refused: LoadItem[];
  failed: LoadItem[];
}

/** Everything a person needs to trust a backup, or to see first why not. */
export interface VerificationReport {
  /** For a failure, the reason a person should read first. */
  reason: string | null;
  stages: StageRecord[];
  storageName: string | null;
  /** `confinement`: what kept the restored server from the host (bwrap, os-user, none, container). */
  sandbox: { driver: string; major: number; confinement?: string; detail?: string } | null;
  load?: LoadReport | null;
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
  /** amcheck over the restored B-tree indexes (absent in reports made before it ran). */
  indexes?: IndexCheckReport | null;
  /**
   * Seconds from the start of the restore to a usable database: download, decryption, pg_restore with
   * its index builds. What a restore of this backup onto the sandbox's hardware takes (the RTO).
   */
  timeToUsableSeconds?: number | null;
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
    reason: null,
    stages: [],
    storageName: null,
    sandbox: null,
    load: null,
    restore: null,
    sourceSizeBytes: null,
    restoredSizeBytes: null,
    schemas: null,
    tables: null,
    expectedRows: null,
    restoredRows: null,
    comparisons: [],
    mismatches: 0,
    indexes: null,
    timeToUsableSeconds: null,
  };
}
