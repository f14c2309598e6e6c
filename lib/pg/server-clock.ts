/**
 * The time on a PostgreSQL server's own clock. Times that are compared with what the server
 * records (commit timestamps, which a PITR target is matched against) are read from it, not from
 * this host: the two clocks may disagree by minutes (docs/reliability.md, clock skew).
 */
import type pg from 'pg';
import { connect, type PgTarget } from './connection.ts';

/** `clock_timestamp()` on the server `client` is connected to. */
export async function clockOf(client: pg.Client): Promise<Date> {
  const { rows } = await client.query<{ now: Date }>('select clock_timestamp() as now');
  return rows[0]!.now;
}

/** `clock_timestamp()` of the server at `target`, on a connection of its own labelled `label`. */
export async function serverClock(label: string, target: PgTarget): Promise<Date> {
  const client = await connect(label, target);
  try {
    return await clockOf(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
