/**
 * Turning WAL archiving on and off, and base backups: the work behind services/pitr/service.ts,
 * which authorizes and audits it.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import { checkStreamingPrerequisites, dropSlot, slotNameFor, withServer } from '../../lib/wal/server.ts';
import { backupIdAt } from '../../temporal/contracts/common.ts';
import {
  baseBackupWorkflow,
  baseBackupWorkflowId,
  stopWalArchiverSignal,
  walArchiverId,
  walArchiverWorkflow,
  walChainMonitorWorkflow,
  walChainMonitorWorkflowId,
  type BaseBackupInput,
  type WalArchiverStatus,
} from '../../temporal/contracts/pitr.ts';
import { deleteDatabaseSchedules, setDatabaseCron } from '../../temporal/schedules.ts';
import { startRun } from '../../temporal/start.ts';
import type { ServiceContext } from '../context.ts';
import { parseOrThrow } from '../input.ts';
import { enablePitrInput, type EnablePitrInput } from './input.ts';

/**
 * wal_level and REPLICATION on the server; returns the database that already archives the same
 * cluster, if any, whose archive this one then joins (docs/pitr.md, "Several databases of one server").
 */
async function checkServer(ctx: ServiceContext, database: string): Promise<string | undefined> {
  const { catalog } = ctx.runtime;
  const server = await withServer(database, await catalog.databaseTarget(database), (client) =>
    checkStreamingPrerequisites(database, client),
  );
  const before = await catalog.wal.config(database);
  // Turning PITR on again for a rebuilt server starts a new archive (under its own system
  // identifier); while PITR is on, another identifier is refused by the archiver instead.
  if (!before.enabled && before.systemIdentifier && before.systemIdentifier !== server.systemIdentifier) {
    await catalog.wal.forgetServerIdentity(database);
  }
  // WAL belongs to the whole cluster: a second archiver would write the same segments under the
  // same keys, so a second database of the cluster reads the first one's archive instead.
  return catalog.wal.otherArchiverOfSystem(server.systemIdentifier, database);
}

/**
 * Joins the archive of `archiving`: no slot, no stream, no schedule of its own. A restore of the
 * archive recovers the whole cluster, so only a database of the same workspace may join it.
 */
async function joinArchive(ctx: ServiceContext, database: string, archiving: string) {
  const { catalog } = ctx.runtime;
  const [own, theirs] = await Promise.all([
    catalog.access.databaseWorkspace(database),
    catalog.access.databaseWorkspace(archiving),
  ]);
  if (own !== theirs) {
    throw new HindsightError(
      'conflict',
      `database "${archiving}" of another workspace already archives the WAL of this PostgreSQL cluster; a restore of that archive recovers every database of the cluster, so "${database}" cannot share it: move both databases into one workspace, or turn PITR off for "${archiving}" first`,
    );
  }
  await catalog.wal.joinArchive(database, archiving);
  return {
    sharesServerArchive: (await catalog.servers.serverOfArchive(archiving)) ?? null,
    archiverWorkflowId: walArchiverId(archiving),
    chainMonitorWorkflowId: walChainMonitorWorkflowId(archiving),
    chainMonitorError: null,
    baseBackup: null,
    sharesArchiveOf: archiving,
  };
}

async function startArchiving(ctx: ServiceContext, database: string, runForMs: number | undefined) {
  const archiver = await startRun(
    ctx,
    walArchiverWorkflow,
    { workflowId: walArchiverId(database), input: { database, ...(runForMs ? { runForMs } : {}) }, database },
    'use-existing',
  );
  let chainMonitor: string | null = null;
  let chainMonitorError: string | null = null;
  try {
    const workflowId = walChainMonitorWorkflowId(database);
    const handle = await startRun(
      ctx,
      walChainMonitorWorkflow,
      { workflowId, input: { database }, database },
      'use-existing',
    );
    chainMonitor = handle.workflowId;
  } catch (error) {
    chainMonitorError = errorMessage(error);
  }
  return { archiverWorkflowId: archiver.workflowId, chainMonitorWorkflowId: chainMonitor, chainMonitorError };
}

/**
 * Checks the server (wal_level, REPLICATION), records the settings, starts `wal/<db>` and the
 * chain monitor `walchain/<db>`, and takes a first base backup. Idempotent: running workflows
 * are kept.
 */
export async function enablePitr(ctx: ServiceContext, database: string, raw: EnablePitrInput = {}) {
  const { catalog } = ctx.runtime;
  const input = parseOrThrow(enablePitrInput, raw);
  const db = await catalog.getDatabase(database);
  // A database behind an agent may not be reachable from here; its agent checks when it starts.
  const agent = input.agent !== undefined ? input.agent : (await catalog.wal.config(database)).agent;
  const archiving = agent ? undefined : await checkServer(ctx, database);
  if (archiving) return joinArchive(ctx, database, archiving);
  await catalog.wal.updateSettings(database, {
    enabled: true,
    slot: slotNameFor(database),
    ...(input.slotMaxMb !== undefined ? { slotMaxBytes: input.slotMaxMb * 1024 * 1024 } : {}),
    ...(input.baseSchedule !== undefined ? { baseBackupSchedule: input.baseSchedule } : {}),
    ...(input.agent !== undefined ? { agent: input.agent } : {}),
    ...(input.partialIntervalMs !== undefined ? { partialIntervalMs: input.partialIntervalMs } : {}),
    ...(input.baseFullEvery !== undefined ? { baseBackupFullEvery: input.baseFullEvery } : {}),
    ...(input.baseBackupUrl !== undefined ? { baseBackupUrl: input.baseBackupUrl } : {}),
    ...(input.slotOverLimit !== undefined ? { slotOverLimit: input.slotOverLimit } : {}),
    ...(input.synchronous !== undefined ? { synchronous: input.synchronous } : {}),
  });
  const started = await startArchiving(ctx, database, input.archiverRunForMs);
  const schedule =
    input.baseSchedule !== undefined ? input.baseSchedule : (await catalog.wal.config(database)).baseBackupSchedule;
  // SKIP overlap: a base backup still running when the next is due is not doubled.
  await setDatabaseCron(ctx, 'baseBackups', database, schedule, db.timezone);
  const first = input.firstBaseBackup ? await startBaseBackup(ctx, database, 'pitr-enabled') : null;
  return { ...started, baseBackup: first, sharesArchiveOf: null, sharesServerArchive: null };
}

/**
 * A database sharing another's archive just leaves it. The archiving database is refused while
 * others share its archive: handing the slot and stream over silently would move whose settings,
 * schedule and base backups the archive follows, which the operator should decide.
 */
async function leaveOrRefuse(ctx: ServiceContext, database: string) {
  const { catalog } = ctx.runtime;
  const config = await catalog.wal.config(database);
  if (config.archiveDatabase) {
    await catalog.wal.leaveArchive(database);
    return { archiver: null, slotDropped: false, leftArchiveOf: config.archiveDatabase };
  }
  const sharers = await catalog.wal.archiveSharers(database);
  if (sharers.length > 0) {
    const names = sharers.map((n) => `"${n}"`).join(', ');
    throw new HindsightError(
      'conflict',
      `database "${database}" archives the WAL that ${names} also restore${sharers.length === 1 ? 's' : ''} from: turn PITR off for ${names} first (hindsight db pitr ${sharers[0]} off)`,
    );
  }
  return null;
}

/** Stops archiving (the archiver ships what it has first), drops the slot, removes the schedule. Archived WAL stays. */
export async function disablePitr(ctx: ServiceContext, database: string, options: { waitMs?: number } = {}) {
  const {
    temporal,
    runtime: { catalog },
  } = ctx;
  await catalog.getDatabase(database);
  const left = await leaveOrRefuse(ctx, database);
  if (left) return left;
  await catalog.wal.updateSettings(database, { enabled: false });
  await deleteDatabaseSchedules(temporal, database, ['baseBackups']);
  const handle = temporal.workflow.getHandle(walArchiverId(database));
  let archiver: WalArchiverStatus | null = null;
  try {
    await handle.signal(stopWalArchiverSignal, 'PITR turned off');
    archiver = await Promise.race([
      // A run that continued as new just before `enabled` turned false fails on it: stopped all the same.
      (handle.result() as Promise<WalArchiverStatus>).catch(() => null),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), options.waitMs ?? 60_000).unref()),
    ]);
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  try {
    await temporal.workflow.getHandle(walChainMonitorWorkflowId(database)).cancel();
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  const slot = (await catalog.wal.config(database)).slot ?? slotNameFor(database);
  const slotDropped = await withServer(database, await catalog.databaseTarget(database), (client) =>
    dropSlot(client, slot),
  );
  return { archiver, slotDropped, leftArchiveOf: null };
}

export async function startBaseBackup(
  ctx: ServiceContext,
  database: string,
  trigger: BaseBackupInput['trigger'] = 'manual',
) {
  await ctx.runtime.catalog.getDatabase(database);
  const { archiveDatabase } = await ctx.runtime.catalog.wal.config(database);
  if (archiveDatabase) {
    throw new HindsightError(
      'conflict',
      `database "${database}" shares the PITR archive of "${archiveDatabase}": base backups of the cluster are taken for "${archiveDatabase}" (hindsight base-backup ${archiveDatabase})`,
    );
  }
  const now = new Date();
  const baseBackupId = backupIdAt(now, randomBytes(3).toString('hex'));
  const workflowId = baseBackupWorkflowId(database, now.toISOString());
  const input = { database, baseBackupId, trigger };
  const handle = await startRun(ctx, baseBackupWorkflow, { workflowId, input, database });
  return { baseBackupId, workflowId, result: () => handle.result() };
}
