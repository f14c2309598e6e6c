/**
 * A receiver left running by a worker that was killed (SIGKILL, the OOM killer): pg_receivewal
 * outlives its parent and keeps streaming from the slot into a spool that no archiver reads, and
 * while it holds the slot no new receiver can stream from it. Before a new stream starts, a slot
 * held by a connection one of our receivers opened is freed by ending that connection (the
 * orphan, run with --no-loop, then exits). "Ours" is the application name our receivers set and
 * the role we connect as: any client can choose an application name, but only one signed in as our
 * role is ended. A slot held by any other client is left alone: the receiver's error then names it.
 */
import type pg from 'pg';
import type { Logger } from '../../logger.ts';
import { slotNameFor } from '../server.ts';

/** The application_name pg_receivewal connects with (the synchronous client uses the slot's name). */
export function receiverApplicationName(database: string): string {
  return `hindsight-wal-${database}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Ends the connection of an earlier receiver of `database` still holding `slot`; returns its
 * server process id, or null when the slot was free or held by another client. Only called when
 * this process runs no receiver on the slot.
 */
export async function endStaleReceiver(
  client: pg.Client,
  input: { database: string; slot: string; logger: Logger },
): Promise<number | null> {
  const { database, slot, logger } = input;
  const ours = [receiverApplicationName(database), slotNameFor(database)];
  const { rows } = await client.query<{ pid: number; app: string | null }>(
    `select s.active_pid as pid, a.application_name as app
     from pg_replication_slots s join pg_stat_activity a on a.pid = s.active_pid
     where s.slot_name = $1 and a.usename = current_user`,
    [slot],
  );
  const holder = rows[0];
  if (!holder || !holder.app || !ours.includes(holder.app)) return null;
  logger.warn(
    { database, slot, pid: holder.pid, applicationName: holder.app },
    'replication slot held by a receiver this worker did not start (left running by a worker that was killed); ending its connection',
  );
  await client.query('select pg_terminate_backend($1)', [holder.pid]);
  // The slot is released once the walsender has exited: wait for it, briefly.
  for (let i = 0; i < 50; i++) {
    const { rows: active } = await client.query<{ pid: number | null }>(
      'select active_pid as pid from pg_replication_slots where slot_name = $1',
      [slot],
    );
    if (active[0]?.pid !== holder.pid) break;
    await sleep(100);
  }
  return holder.pid;
}
