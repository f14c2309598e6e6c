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
  /** A storage holding it refuses to delete its objects before this date (S3 Object Lock). */
  lockedUntil?: Date;
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
  /** Bytes the object takes in storage (shown in the plan). */
  storedBytes?: number;
  /** False when the catalog lists it but storage does not hold it: a hole, never assumed present. */
  present?: boolean;
}

/** A timeline history file: `<timeline>.history`, listing every ancestor and where it was left. */
export interface PlannedHistory {
  timeline: number;
  content: string;
}

export interface PitrFacts {
  /** Recovery must stay possible to any moment of the last windowDays days. */
  windowDays: number;
  baseBackups: PlannedBaseBackup[];
  walSegments: PlannedWalSegment[];
  /** History files of the archive: how timelines descend from each other (wal-cuts.ts). */
  histories?: PlannedHistory[];
  /**
   * With it, the WAL each kept base backup replays up to the newest archived position is checked
   * for holes, and a hole refuses the plan (wal-gaps.ts).
   */
  segmentSize?: number;
  /** The policy that keeps logical backups also keeps base backups by their finish time. */
  byPolicy?: boolean;
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

/** The WAL one timeline loses: every segment ending at or before `cutLsn`. */
export interface WalTimelineCut {
  timeline: number;
  cutLsn: string;
  /** The first and last segment deleted, by name and position (first's start, last's end). */
  first: string;
  last: string;
  firstLsn: string;
  lastLsn: string;
  segments: number;
  /** Sum of the deleted segments' stored bytes. */
  bytes: number;
}

export interface RetentionPlan {
  keep: KeepDecision[];
  delete: DeleteDecision[];
  keepBaseBackups: KeepDecision[];
  deleteBaseBackups: DeleteDecision[];
  deleteWalBefore: WalCut | null;
  /** Per timeline, the WAL to delete (empty when none or refused). The planner fills these three; older results lack them. */
  walCuts?: WalTimelineCut[];
  /** Timelines whose history file no kept WAL or base backup needs any more. */
  deleteHistories?: number[];
  /** Why nothing of the PITR archive may be deleted (a hole inside a kept window); null when none. */
  walRefusal?: string | null;
  /** With a per-storage policy on any storage: each storage's decisions about the copies it holds. */
  storages?: StoragePlan[];
  /** Copies removed from one storage while their backup stays restorable from another. */
  deleteCopies?: CopyDeleteDecision[];
  summary: string;
}

/** What one storage decides about the copies it holds. */
export interface StoragePlan {
  storage: string;
  /** Its own policy, or null when it follows the database's. */
  policy: RetentionPolicyInput | null;
  keep: KeepDecision[];
  delete: DeleteDecision[];
  summary: string;
}

/** A copy removed from one storage while its backup stays restorable from another. */
export interface CopyDeleteDecision {
  id: string;
  storage: string;
  reason: string;
}
