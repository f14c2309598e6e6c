/**
 * Whether a drill's restore proved its target (docs/pitr.md, "Drills"). Pure: the recording
 * activity applies it to what the restore reported.
 */
import { parseLsn, segmentNameOfLsn } from '../wal/lsn.ts';
import type { DrillCheck } from './drill-checks.ts';
import type { DrillTarget } from './drill-targets.ts';

export interface DrillRestoreReport {
  reachedLsn: string;
  lastTransactionTime: string | null;
  /** Set when recovery ran out of WAL before a time target and promoted at the end of the archive. */
  note: string | null;
  drillChecks?: { verifyBackup?: DrillCheck; amcheck?: DrillCheck };
}

export interface DrillVerdict {
  outcome: 'passed' | 'failed';
  error: string | null;
}

/**
 * Recovery reached the target when:
 * - time T: the last transaction replayed committed at or before T (recovery_target_inclusive stops
 *   before the first commit after T, so a later one means the target was overshot), and every
 *   commit up to T was replayed. Recovery stopping by itself at a commit after T proves the second
 *   half (WAL is replayed in order); when it instead ran out of WAL and promoted at the end of the
 *   archive (an idle stretch), that end must lie at or after the window's end as planned, or WAL the
 *   catalog lists was not there to replay.
 * - latest: recovery replayed at least to the window's end as planned (the archive only grows).
 */
export function recoveryVerdict(target: DrillTarget, report: DrillRestoreReport, segmentSize: number): string | null {
  const reached = parseLsn(report.reachedLsn);
  const shortOf = (why: string) =>
    `${why}: recovery ended at ${report.reachedLsn}, before the window's archived end ${target.toLsn}; segment ${segmentNameOfLsn(target.timeline, reached, segmentSize)} was not replayed`;
  if (target.target === 'latest') {
    return reached < parseLsn(target.toLsn) ? shortOf('the newest point was not reached') : null;
  }
  const t = Date.parse(target.target.time);
  const last = report.lastTransactionTime === null ? null : Date.parse(report.lastTransactionTime);
  if (last !== null && last > t)
    return `recovery overshot the target ${target.target.time}: it replayed a transaction committed at ${report.lastTransactionTime}`;
  if (report.note !== null && reached < parseLsn(target.toLsn))
    return shortOf(`the target ${target.target.time} was not reached`);
  return null;
}

/** The drill's outcome: the restore's error, recovery short of its target, or a check that found damage. */
export function drillVerdict(
  target: DrillTarget,
  restored: { report: DrillRestoreReport } | { error: string },
  segmentSize: number,
): DrillVerdict {
  const missing =
    target.missingInStorage.length > 0
      ? `; storage lacks ${target.missingInStorage.length === 1 ? 'segment' : 'segments'} ${target.missingInStorage.join(', ')} that the catalog lists inside this window`
      : '';
  if ('error' in restored) return { outcome: 'failed', error: `${restored.error}${missing}` };
  const problems: string[] = [];
  const recovery = recoveryVerdict(target, restored.report, segmentSize);
  if (recovery) problems.push(recovery);
  const checks = restored.report.drillChecks ?? {};
  if (checks.verifyBackup?.outcome === 'failed') problems.push(checks.verifyBackup.detail);
  if (checks.amcheck?.outcome === 'failed') problems.push(checks.amcheck.detail);
  if (problems.length === 0) return { outcome: 'passed', error: null };
  return { outcome: 'failed', error: `${problems.join('; ')}${missing}` };
}
