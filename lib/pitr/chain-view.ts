/**
 * The WAL chain of a database as the chain monitor's `chain` query and the walChain activity show
 * it: recoverable windows, gaps, unusable base backups. Plain JSON (LSNs as text), built by
 * chain-source.ts from the catalog and what storage holds.
 */
export interface ChainPointView {
  lsn: string;
  time: string;
}

export interface WindowView {
  baseBackupId: string;
  timeline: number;
  from: ChainPointView;
  to: ChainPointView;
  legs: Array<{ timeline: number; fromLsn: string; toLsn: string }>;
  /**
   * False when the end is only when the newest WAL reached storage, because the server could not
   * confirm the archive's head (lib/pitr/window-end.ts); absent in the chain monitor's own view.
   */
  endExact?: boolean;
  /** For an approximate end: "up to about …, exact after the next check: <why>". */
  endNote?: string | null;
  text: string;
}

export interface GapView {
  timeline: number;
  fromLsn: string;
  toLsn: string;
  missing: string[];
  missingCount: number;
  notInStorage: string[];
  text: string;
}

export interface ChainView {
  database: string;
  checkedAt: string;
  systemIdentifier: string | null;
  windows: WindowView[];
  gaps: GapView[];
  unusableBaseBackups: Array<{ id: string; reason: string }>;
  /** Incremental base backups that cannot be restored because their chain lacks a member (also among the unusable). */
  brokenChains?: Array<{ id: string; reason: string }>;
  completeBaseBackups: number;
  runningBaseBackups: number;
}
