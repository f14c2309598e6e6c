/**
 * `--slot-over-limit drop`: a slot that has kept more WAL than its limit for longer than one check,
 * WAL from before the server's last checkpoint among it, is dropped and created again, so that the source's disk is protected at the price of the WAL the
 * slot held. Nothing is hidden: the archive keeps what it had, the new stream starts where the new
 * slot does, and whatever lies between is a gap the chain monitor reports; the archiver's run ends
 * so that its workflow starts a base backup, which opens a new recoverable window.
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

export async function dropOverLimitSlot(
  session: ReceiverSession,
  archiver: SpoolArchiver,
  retainedBytes: number,
): Promise<SlotDropped> {
  const { database, target, slot, catalog, notify, logger } = session.options;
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
  const limit = session.slotMaxBytes ?? 0;
  const lost =
    durable && resumed !== null && resumed > durable.lsn
      ? `the archive ends at ${drop.archivedTo} and streaming resumes at ${drop.resumedFrom}: the WAL between them is not archived, and the chain monitor reports that gap`
      : `streaming resumes at ${drop.resumedFrom ?? 'the server’s current position'}, where the archive still continues without a gap`;
  const message = `database "${database}": replication slot "${slot}" held ${mebibytes(retainedBytes)} of WAL, over the ${mebibytes(limit)} limit for longer than one check, and was dropped and created again (--slot-over-limit drop) to protect the server's disk; ${lost}. A base backup follows to start a new recoverable window.`;
  logger.warn({ database, slot, ...drop }, 'replication slot over its limit dropped and recreated');
  await notify({ event: 'wal_slot_dropped', message, dedupeKey: `wal_slot_dropped:${database}:${drop.at}` });
  session.status.slotDropped = drop;
  return drop;
}
