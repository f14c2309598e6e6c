import type { RetentionPolicyInput } from './policy.ts';

/** The facts a retention run plans over and the plan it returns (see planner.ts). */

/** A restorable (complete or partial) backup. */
export interface PlannedBackup {
  id: string;
  finishedAt: Date;
  status: 'complete' | 'partial';
  /** The newest finished verification of this backup succeeded. */
  verified: boolean;
  /** A restore or verification that has not finished reads it. */
  inUse: boolean;
}

export interface PlannedBaseBackup {
  id: string;
  finishedAt: Date;
  /** Where recovery from it starts replaying WAL, e.g. 16/B374D848. */
  startLsn: string;
  timeline: number;
  inUse: boolean;
  /** The base backup an incremental one was taken against; absent or null for a full. */
  parentId?: string | null;
}

export interface PlannedWalSegment {
  /** 24 hex digits: timeline, log and segment, e.g. 000000010000000000000003. */
  name: string;
  timeline: number;
  startLsn: string;
  /** First position after the segment. */
  endLsn: string;
}

export interface PitrFacts {
  /** Recovery must stay possible to any moment of the last windowDays days. */
  windowDays: number;
  baseBackups: PlannedBaseBackup[];
  walSegments: PlannedWalSegment[];
}

export interface RetentionInput {
  now: Date;
  policy: RetentionPolicyInput;
  backups: PlannedBackup[];
  pitr?: PitrFacts;
}

export interface KeepDecision {
  id: string;
  reasons: string[];
}
export interface DeleteDecision {
  id: string;
  reason: string;
}

/** WAL segments wholly before this position (see isWalSegmentBefore) are no longer needed. */
export interface WalCut {
  timeline: number;
  lsn: string;
}

export interface RetentionPlan {
  keep: KeepDecision[];
  delete: DeleteDecision[];
  keepBaseBackups: KeepDecision[];
  deleteBaseBackups: DeleteDecision[];
  deleteWalBefore: WalCut | null;
  summary: string;
}
