/**
 * The I/O of a PITR drill (workflows/pitr-drill.ts): the targets to restore to, picked inside the
 * windows the catalog records for the server's archive, and the record of each restore with its
 * verdict (lib/pitr/drill-verdict.ts); a failed drill queues a `pitr_drill_failed` notification.
 */
import type { Catalog } from '../lib/catalog/catalog.ts';
import { HindsightError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { chainView, loadChain } from '../lib/pitr/chain-source.ts';
import type { GapView, WindowView } from '../lib/pitr/chain-view.ts';
import { drillOptionsSchema, pickDrillTargets, seededRandom, type DrillTarget } from '../lib/pitr/drill-targets.ts';
import { drillVerdict } from '../lib/pitr/drill-verdict.ts';
import { recoverableWindows } from '../lib/pitr/window.ts';
import { parseLsn } from '../lib/wal/lsn.ts';
import type { PitrDrillPlan, PitrDrillResult } from '../temporal/contracts/pitr-drill.ts';
import type { PitrOutcome } from '../temporal/contracts/pitr.ts';
import { bindActivities } from './bind.ts';
import { createOutbox, type NotificationDeps } from './notifications.ts';

export interface PitrDrillDeps extends NotificationDeps {
  catalog: Catalog;
  logger: Logger;
}

/** The segments storage lacks, among those the catalog lists inside `w`. */
function lackedInside(w: WindowView, gaps: readonly GapView[]): string[] {
  const from = parseLsn(w.from.lsn);
  const to = parseLsn(w.to.lsn);
  return gaps
    .filter((g) => g.timeline === w.timeline && parseLsn(g.fromLsn) <= to && parseLsn(g.toLsn) >= from)
    .flatMap((g) => g.notInStorage);
}

/**
 * The targets of one drill. The windows are the catalog's, not storage's: a segment the catalog
 * lists and storage lost is exactly what a drill is there to find, so it must not quietly split the
 * window the drill picks from. Storage's view names what it lacks inside each.
 */
async function planPitrDrill(
  deps: PitrDrillDeps,
  input: { server: string; seed?: number | undefined; latest?: boolean },
): Promise<PitrDrillPlan> {
  const { catalog } = deps;
  const options = drillOptionsSchema.parse({ seed: input.seed, latest: input.latest });
  const database = await catalog.servers.serverArchive(input.server);
  if (!database || !(await catalog.wal.config(database)).enabled)
    throw new HindsightError(
      'bad_input',
      `server "${input.server}" has no PITR archive to drill: turn it on first (hindsight server pitr ${input.server} on)`,
    );
  const recorded = chainView(await loadChain(catalog, database), new Date());
  if (recorded.windows.length === 0 || recorded.systemIdentifier === null)
    throw new HindsightError(
      'bad_input',
      `server "${input.server}" has no recoverable window yet: a drill needs a complete base backup and its WAL`,
    );
  const stored = await recoverableWindows(catalog, database);
  const random = options.seed === undefined ? Math.random : seededRandom(options.seed);
  const targets = pickDrillTargets(recorded.windows, {
    random,
    latest: options.latest,
    missingInStorage: (w) => lackedInside(w, stored.gaps),
  });
  const { walSegmentSize } = await catalog.wal.config(database);
  return { server: input.server, database, segmentSize: walSegmentSize ?? 16 * 1024 * 1024, targets };
}

interface RecordInput {
  server: string;
  workflowId: string;
  segmentSize: number;
  target: DrillTarget;
  startedAt: string;
  restored: { report: PitrOutcome } | { error: string };
}

const describeDrillTarget = (t: DrillTarget) => (t.target === 'latest' ? 'latest' : t.target.time);

/** Records one target's drill with its verdict; returns it and the server's proven-up-to time after it. */
async function recordPitrDrillRun(
  deps: PitrDrillDeps,
  input: RecordInput,
): Promise<{ drill: PitrDrillResult; provenUpTo: string | null }> {
  const { catalog, logger } = deps;
  const verdict = drillVerdict(input.target, input.restored, input.segmentSize);
  const report = 'report' in input.restored ? input.restored.report : null;
  const figures = report?.figures ?? null;
  const startedAt = new Date(input.startedAt);
  const record = await catalog.servers.recordPitrDrill({
    server: input.server,
    workflowId: input.workflowId,
    window: input.target.window,
    target: describeDrillTarget(input.target),
    provesUntil: new Date(input.target.provesUntil),
    reachedLsn: report?.reachedLsn ?? null,
    reachedTime: report?.lastTransactionTime ? new Date(report.lastTransactionTime) : null,
    outcome: verdict.outcome,
    error: verdict.error,
    verifyBackup: report?.drillChecks?.verifyBackup ?? null,
    amcheck: report?.drillChecks?.amcheck ?? null,
    stepsMs: { ...(figures?.stagesMs ?? {}), drill: Date.now() - startedAt.getTime() },
    walBytesPerSecond: figures?.walBytesPerSecond ?? null,
    startedAt,
  });
  const log = { server: input.server, target: record.target, outcome: record.outcome, error: record.error };
  if (record.outcome === 'failed') {
    logger.warn(log, 'PITR drill failed');
    const workspaceId = (await catalog.servers.getServer(input.server)).workspaceId;
    await createOutbox(deps).queue({
      database: null,
      workspaceId,
      event: 'pitr_drill_failed',
      message: `PITR drill of server "${input.server}" failed restoring to ${record.target} (window ${record.window}): ${record.error}`,
      dedupeKey: `${input.workflowId}:${record.id}`,
    });
  } else logger.info(log, 'PITR drill passed');
  const [summary] = await catalog.servers.drillSummaries(input.server);
  return {
    drill: {
      id: record.id,
      window: record.window,
      target: record.target,
      outcome: record.outcome,
      error: record.error,
      reachedLsn: record.reachedLsn,
      reachedTime: record.reachedTime?.toISOString() ?? null,
      verifyBackup: record.verifyBackup,
      amcheck: record.amcheck,
      figures,
    },
    provenUpTo: summary?.provenUpTo?.toISOString() ?? null,
  };
}

export const createPitrDrillActivities = (deps: PitrDrillDeps) =>
  bindActivities(deps, { planPitrDrill, recordPitrDrillRun });
