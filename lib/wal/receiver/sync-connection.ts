/**
 * A physical replication connection (`replication=true`) for the synchronous receiver, and the
 * replication commands it needs besides START_REPLICATION: IDENTIFY_SYSTEM and TIMELINE_HISTORY
 * (PostgreSQL docs, "Streaming Replication Protocol").
 */
import type pg from 'pg';
import { connect, type PgTarget } from '../../pg/connection.ts';
import { parseLsn, type Lsn } from '../lsn.ts';

export function openReplicationConnection(
  label: string,
  target: PgTarget,
  applicationName: string,
): Promise<pg.Client> {
  // application_name is what synchronous_standby_names matches.
  return connect(label, target, { replication: 'true', application_name: applicationName });
}

export interface IdentifiedSystem {
  systemIdentifier: string;
  timeline: number;
  /** The server's current WAL flush position. */
  flushLsn: Lsn;
}

export async function identifySystem(client: pg.Client): Promise<IdentifiedSystem> {
  const { rows } = await client.query<{ systemid: string; timeline: string | number; xlogpos: string }>(
    'IDENTIFY_SYSTEM',
  );
  const row = rows[0];
  if (!row) throw new Error('IDENTIFY_SYSTEM returned no row');
  return { systemIdentifier: String(row.systemid), timeline: Number(row.timeline), flushLsn: parseLsn(row.xlogpos) };
}

/** The history file of `timeline` (> 1) as the server holds it: its file name and text. */
export async function timelineHistory(
  client: pg.Client,
  timeline: number,
): Promise<{ fileName: string; content: string }> {
  const { rows } = await client.query<{ filename: string; content: string | Buffer }>(
    `TIMELINE_HISTORY ${Math.trunc(timeline)}`,
  );
  const row = rows[0];
  if (!row) throw new Error(`TIMELINE_HISTORY ${timeline} returned no row`);
  const content = Buffer.isBuffer(row.content) ? row.content.toString('utf8') : String(row.content);
  return { fileName: String(row.filename), content };
}
