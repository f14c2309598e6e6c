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

/** wal_level and REPLICATION on the server, and no other database archiving the same cluster. */
async function checkServer(ctx: ServiceContext, database: string): Promise<void> {
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
  // WAL belongs to the whole cluster: two databases of one cluster would archive the same
  // segments under the same keys, each overwriting the other's partial uploads.
  const other = await catalog.wal.otherArchiverOfSystem(server.systemIdentifier, database);
  if (other) {
    throw new HindsightError(
      'conflict',
      `database "${other}" already archives the WAL of this PostgreSQL cluster (system ${server.systemIdentifier}); PITR covers the whole cluster, so restore from "${other}" instead, or turn it off there first`,
    );
  }
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
  if (!agent) await checkServer(ctx, database);
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
  return { ...started, baseBackup: first };
}

/** Stops archiving (the archiver ships what it has first), drops the slot, removes the schedule. Archived WAL stays. */
export async function disablePitr(ctx: ServiceContext, database: string, options: { waitMs?: number } = {}) {
  const {
    temporal,
    runtime: { catalog },
  } = ctx;
  await catalog.getDatabase(database);
  await catalog.wal.updateSettings(database, { enabled: false });
  await deleteDatabaseSchedules(temporal, database, ['baseBackups']);
  const handle = temporal.workflow.getHandle(walArchiverId(database));
  let archiver: WalArchiverStatus | null = null;
  try {
    await handle.signal(stopWalArchiverSignal, 'PITR turned off');
    archiver = await Promise.race([
      handle.result() as Promise<WalArchiverStatus>,
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
  return { archiver, slotDropped };
}

export async function startBaseBackup(
  ctx: ServiceContext,
  database: string,
  trigger: BaseBackupInput['trigger'] = 'manual',
) {
  await ctx.runtime.catalog.getDatabase(database);
  const now = new Date();
  const baseBackupId = backupIdAt(now, randomBytes(3).toString('hex'));
  const workflowId = baseBackupWorkflowId(database, now.toISOString());
  const input = { database, baseBackupId, trigger };
  const handle = await startRun(ctx, baseBackupWorkflow, { workflowId, input, database });
  return { baseBackupId, workflowId, result: () => handle.result() };
}
