/**
 * `--slot-over-limit drop`: a slot that has kept more WAL than its limit for longer than one check,
 * WAL from before the server's last checkpoint among it, is dropped and created again, so that the source's disk is protected at the price of the WAL the
 * slot held. Nothing is hidden: the archive keeps what it had, the new stream starts where the new
 * slot does, and whatever lies between is a gap the chain monitor reports; the archiver's run ends
 * so that its workflow starts a base backup, which opens a new recoverable window. A slot the
 * server itself invalidated (`max_slot_wal_keep_size`) goes the same way, whatever the policy.
 */
import type pg from 'pg';
import { formatLsn, parseLsn, segmentOf, segmentStartLsn, type Lsn } from '../lsn.ts';
import { dropSlot, ensurePhysicalSlot, slotPosition, withServer } from '../server.ts';
import { mebibytes } from './health.ts';
import type { ReceiverSession, SlotDropped } from './session.ts';
import type { SpoolArchiver } from './spool.ts';

/**
 * Whether the slot keeps WAL from before the server's last checkpoint, which the server would
 * otherwise recycle: only then does dropping it free any disk. A slot just created (reserved at the
 * last checkpoint's redo point), or one whose receiver keeps up, is never dropped, however small
 * the limit, so that a drop cannot repeat itself.
 */
export async function slotPinsRecyclableWal(client: pg.Client, restartLsn: Lsn | null): Promise<boolean> {
  if (restartLsn === null) return false;
  // Executable by everyone unless revoked; without it nothing says a drop would free anything.
  const rows = await client
    .query<{ redo: string | null }>('select redo_lsn::text as redo from pg_control_checkpoint()')
    .then((r) => r.rows)
    .catch(() => []);
  const redo = rows[0]?.redo;
  return redo ? restartLsn < parseLsn(redo) : false;
}

/** Drops the slot, creates it again and readies the spool for its stream: where the archive ends and streaming resumes. */
async function recreateSlot(
  session: ReceiverSession,
  archiver: SpoolArchiver,
  retainedBytes: number,
): Promise<{ drop: SlotDropped; lost: string }> {
  const { database, target, slot, catalog } = session.options;
  const { systemIdentifier, walSegmentSize } = session.server;
  const durable = await catalog.latestDurable(database, systemIdentifier);
  const restart = await withServer(database, target, async (client) => {
    await dropSlot(client, slot);
    await ensurePhysicalSlot(client, slot);
    return (await slotPosition(client, slot))?.restartLsn ?? null;
  });
  // The spool's partials belong to the dropped stream: what the catalog has of them stays, the files go.
  await archiver.prepareForStream(true);
  // Receivers start at the beginning of the segment holding the slot's position.
  const resumed = restart === null ? null : segmentStartLsn(segmentOf(restart, walSegmentSize), walSegmentSize);
  const drop: SlotDropped = {
    at: new Date().toISOString(),
    retainedBytes,
    archivedTo: durable ? formatLsn(durable.lsn) : null,
    resumedFrom: resumed === null ? null : formatLsn(resumed),
  };
  const lost =
    durable && resumed !== null && resumed > durable.lsn
      ? `the archive ends at ${drop.archivedTo} and streaming resumes at ${drop.resumedFrom}: the WAL between them is not archived, and the chain monitor reports that gap`
      : `streaming resumes at ${drop.resumedFrom ?? 'the server’s current position'}, where the archive still continues without a gap`;
  session.status.slotDropped = drop;
  return { drop, lost };
}

export async function dropOverLimitSlot(
  session: ReceiverSession,
  archiver: SpoolArchiver,
  retainedBytes: number,
): Promise<SlotDropped> {
  const { database, slot, notify, logger } = session.options;
  const { drop, lost } = await recreateSlot(session, archiver, retainedBytes);
  const limit = session.slotMaxBytes ?? 0;
  const message = `database "${database}": replication slot "${slot}" held ${mebibytes(retainedBytes)} of WAL, over the ${mebibytes(limit)} limit for longer than one check, and was dropped and created again (--slot-over-limit drop) to protect the server's disk; ${lost}. A base backup follows to start a new recoverable window.`;
  logger.warn({ database, slot, ...drop }, 'replication slot over its limit dropped and recreated');
  await notify({ event: 'wal_slot_dropped', message, dedupeKey: `wal_slot_dropped:${database}:${drop.at}` });
  return drop;
}

/**
 * A slot the server invalidated (`wal_status = 'lost'`: it kept more WAL than
 * `max_slot_wal_keep_size` while the archiver was behind or stopped, and the server removed that
 * WAL) can never stream again. It is dropped and created again like a slot over its limit, the run
 * ends so that a base backup follows, and the operator is told once per lost stretch of WAL.
 */
export async function dropLostSlot(session: ReceiverSession, archiver: SpoolArchiver): Promise<SlotDropped> {
  const { database, target, slot, notify, logger } = session.options;
  const { drop, lost } = await recreateSlot(session, archiver, 0);
  const message = `database "${database}": replication slot "${slot}" on ${target.host}:${target.port} was invalidated by the server (wal_status 'lost'): it kept more WAL than max_slot_wal_keep_size allows while the archiver was behind or stopped, and the server removed that WAL. The slot was dropped and created again; ${lost}. A base backup follows to start a new recoverable window. To keep this from happening again, raise max_slot_wal_keep_size on the server or keep the archiver running.`;
  logger.warn({ database, slot, ...drop }, 'replication slot invalidated by the server; dropped and recreated');
  await notify({
    event: 'wal_slot_dropped',
    message,
    dedupeKey: `wal_slot_lost:${database}:${slot}:${drop.archivedTo ?? 'empty archive'}`,
  });
  return drop;
}
