/**
 * PITR drills of a server (docs/pitr.md, "Drills"): the schedule `pitrdrill/<server>` follows the
 * server's drill cron while its PITR is on; `server drill` runs one now; `server show`, the API,
 * the console and /metrics tell the last outcome and the time the window is proven up to.
 */
import type { Catalog } from '../../lib/catalog/catalog.ts';
import type { PitrDrillRecord } from '../../lib/catalog/pitr-drills.ts';
import type { ServerRecord } from '../../lib/catalog/servers.ts';
import { HindsightError } from '../../lib/errors.ts';
import { pitrDrillWorkflow, pitrDrillWorkflowId } from '../../temporal/contracts/pitr-drill.ts';
import { setDrillSchedule } from '../../temporal/pitr-drill-schedules.ts';
import { startRun, type RunTarget } from '../../temporal/start.ts';
import type { ServiceContext } from '../context.ts';

export interface ServerDrillStatus {
  /** The drill cron; null when drills are off. */
  schedule: string | null;
  /** Whether the schedule runs: drills on and the server's PITR on. */
  scheduled: boolean;
  provenUpTo: string | null;
  lastOutcome: 'passed' | 'failed' | null;
  lastAt: string | null;
  lastError: string | null;
  recent: Array<ReturnType<typeof drillView>>;
}

export function drillView(d: PitrDrillRecord) {
  return {
    id: d.id,
    workflowId: d.workflowId,
    window: d.window,
    target: d.target,
    outcome: d.outcome,
    error: d.error,
    reachedLsn: d.reachedLsn,
    reachedTime: d.reachedTime?.toISOString() ?? null,
    verifyBackup: d.verifyBackup,
    amcheck: d.amcheck,
    stepsMs: d.stepsMs,
    walBytesPerSecond: d.walBytesPerSecond,
    startedAt: d.startedAt.toISOString(),
    finishedAt: d.finishedAt.toISOString(),
  };
}

/** What setting a drill schedule needs: Temporal, the task queue and the catalog (a ServiceContext, or the worker's). */
type DrillScheduleTarget = RunTarget & { runtime: { catalog: Catalog; config: { taskQueue: string } } };

async function pitrOn(ctx: DrillScheduleTarget, server: string): Promise<boolean> {
  const carrier = await ctx.runtime.catalog.servers.serverArchive(server);
  return carrier !== null && (await ctx.runtime.catalog.wal.config(carrier)).enabled;
}

/** Makes the Temporal schedule match the server's drill cron and its PITR (on: scheduled; off: none). */
export async function syncDrillSchedule(ctx: DrillScheduleTarget, server: ServerRecord): Promise<void> {
  const cron = await ctx.runtime.catalog.servers.drillSchedule(server.name);
  const on = cron !== null && (await pitrOn(ctx, server.name));
  await setDrillSchedule(ctx, server.name, on ? cron : null, server.timezone);
}

/**
 * Every server's drill schedule, made by each main worker at start: a server whose PITR was on
 * before drills existed gets its weekly drills without being touched.
 */
export async function syncAllDrillSchedules(ctx: DrillScheduleTarget): Promise<void> {
  for (const server of await ctx.runtime.catalog.servers.listServers()) await syncDrillSchedule(ctx, server);
}

/** Sets the drill cron (null: off, validated by updateServerInput) and the schedule with it. */
export async function setServerDrillSchedule(ctx: ServiceContext, server: ServerRecord, cron: string | null) {
  await ctx.runtime.catalog.servers.setDrillSchedule(server.name, cron);
  await syncDrillSchedule(ctx, server);
}

export async function serverDrillStatus(ctx: ServiceContext, server: string): Promise<ServerDrillStatus> {
  const { catalog } = ctx.runtime;
  const schedule = await catalog.servers.drillSchedule(server);
  const [summary] = await catalog.servers.drillSummaries(server);
  return {
    schedule,
    scheduled: schedule !== null && (await pitrOn(ctx, server)),
    provenUpTo: summary?.provenUpTo?.toISOString() ?? null,
    lastOutcome: summary?.lastOutcome ?? null,
    lastAt: summary?.lastAt?.toISOString() ?? null,
    lastError: summary?.lastError ?? null,
    recent: (await catalog.servers.drillsOf(server, 10)).map(drillView),
  };
}

/** Starts a drill now; refused while the server has no PITR archive on. */
export async function startServerDrill(ctx: ServiceContext, server: string, options: { seed?: number } = {}) {
  if (!(await pitrOn(ctx, server)))
    throw new HindsightError(
      'bad_input',
      `server "${server}" has no PITR archive to drill: turn it on first (hindsight server pitr ${server} on)`,
    );
  const workflowId = pitrDrillWorkflowId(server, new Date());
  const input = { server, trigger: 'manual' as const, ...(options.seed === undefined ? {} : { seed: options.seed }) };
  const handle = await startRun(ctx, pitrDrillWorkflow, { workflowId, input, database: null });
  return { workflowId, result: () => handle.result() };
}
