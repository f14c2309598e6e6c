/**
 * The time on a PostgreSQL server's own clock. Times that are compared with what the server
 * records (commit timestamps, which a PITR target is matched against) are read from it, not from
 * this host: the two clocks may disagree by minutes (docs/reliability.md, clock skew).
 */
import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import { connect, type PgTarget } from './connection.ts';

/**
 * How far a server's clock may be from this host's before its times are refused. Minutes of skew
 * are tolerated (the server's clock is the one its commit times use); a clock a day or more away is
 * broken, and dates on it would keep its base backups out of age-based retention for as long.
 */
export const MAX_SERVER_CLOCK_SKEW_MS = 24 * 60 * 60 * 1000;

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

/** `serverTime` if it is within MAX_SERVER_CLOCK_SKEW_MS of `localTime`; otherwise refuses, naming the server. */
export function checkServerClock(label: string, serverTime: Date, localTime: Date): Date {
  const skewMs = serverTime.getTime() - localTime.getTime();
  if (Math.abs(skewMs) <= MAX_SERVER_CLOCK_SKEW_MS) return serverTime;
  const hours = Math.round(Math.abs(skewMs) / 3_600_000);
  throw new HindsightError(
    'conflict',
    `server of "${label}": its clock reads ${serverTime.toISOString()}, ${hours} hours ${skewMs > 0 ? 'ahead of' : 'behind'} this host's (${localTime.toISOString()}); ` +
      "times on it cannot date a backup: set the server's clock right (NTP), then take the backup again",
  );
}

/** `serverClock`, refused when it is a day or more from this host's clock (checkServerClock). */
export async function checkedServerClock(label: string, target: PgTarget): Promise<Date> {
  return checkServerClock(label, await serverClock(label, target), new Date());
}
