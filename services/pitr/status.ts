import { errorMessage } from '../../lib/errors.ts';
import { formatLsn } from '../../lib/wal/lsn.ts';
import { slotPosition, withServer } from '../../lib/wal/server.ts';
import { walArchiverId, walStatusQuery, type WalArchiverStatus } from '../../temporal/contracts/pitr.ts';
import type { ServiceContext } from '../context.ts';
import type { WalStatus } from './input.ts';

/**
 * From the catalog (what storage holds), the server (what the slot keeps) and the archiver's
 * `status` query; a database sharing another's archive reports that archive.
 */
export async function walStatus(ctx: ServiceContext, database: string): Promise<WalStatus> {
  const own = await ctx.runtime.catalog.wal.config(database);
  const status = await archiveStatus(ctx, own.archiveDatabase ?? database);
  return { ...status, database, enabled: own.enabled, sharesArchiveOf: own.archiveDatabase };
}

async function archiveStatus(ctx: ServiceContext, database: string): Promise<WalStatus> {
  const {
    temporal,
    runtime: { catalog },
  } = ctx;
  const pitr = await catalog.wal.config(database);
  const durable = await catalog.wal.latestDurable(database, pitr.systemIdentifier ?? undefined);
  const segments = pitr.systemIdentifier
    ? await catalog.wal.segmentsOf(database, { systemIdentifier: pitr.systemIdentifier })
    : [];
  const lastBase = (await catalog.wal.baseBackupsOf(database))[0];
  let slotRetainedBytes: number | null = null;
  let serverFlushLsn: string | null = null;
  if (pitr.slot) {
    try {
      const position = await withServer(database, await catalog.databaseTarget(database), (client) =>
        slotPosition(client, pitr.slot!),
      );
      slotRetainedBytes = position?.retainedBytes ?? null;
      serverFlushLsn = position?.flushedLsn != null ? formatLsn(position.flushedLsn) : null;
    } catch {
      // Behind an agent, or down: the archiver's own report below still says how it stands.
    }
  }
  let archiver: WalArchiverStatus | null = null;
  let archiverError: string | null = null;
  try {
    archiver = await temporal.workflow.getHandle(walArchiverId(database)).query(walStatusQuery);
  } catch (error) {
    archiverError = errorMessage(error);
  }
  return {
    database,
    enabled: pitr.enabled,
    sharesArchiveOf: null,
    slot: pitr.slot,
    systemIdentifier: pitr.systemIdentifier,
    walSegmentSize: pitr.walSegmentSize,
    durableLsn: durable ? formatLsn(durable.lsn) : null,
    durableAt: durable ? durable.receivedAt.toISOString() : null,
    durableAgeSeconds: durable ? Math.max(0, (Date.now() - durable.receivedAt.getTime()) / 1000) : null,
    timeline: durable?.timeline ?? null,
    segments: {
      complete: segments.filter((s) => s.complete).length,
      partial: segments.filter((s) => !s.complete).length,
    },
    slotRetainedBytes,
    serverFlushLsn,
    slotMaxBytes: pitr.slotMaxBytes,
    partialIntervalMs: pitr.partialIntervalMs,
    baseBackupSchedule: pitr.baseBackupSchedule,
    baseBackupFullEvery: pitr.baseBackupFullEvery,
    slotOverLimit: pitr.slotOverLimit,
    synchronous: pitr.synchronous,
    archiver,
    archiverError,
    lastBaseBackup: lastBase
      ? {
          id: lastBase.id,
          status: lastBase.status,
          stopTime: lastBase.stopTime?.toISOString() ?? null,
          startLsn: lastBase.startLsn !== null ? formatLsn(lastBase.startLsn) : null,
          stopLsn: lastBase.stopLsn !== null ? formatLsn(lastBase.stopLsn) : null,
          kind: lastBase.kind,
          parentId: lastBase.parentId,
          kindReason: lastBase.kindReason,
        }
      : null,
  };
}
