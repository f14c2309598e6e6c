/**
 * What the WAL archiver asks the source server: who it is, whether it can stream, and where its
 * replication slot stands. Every query is a plain connection; only pg_receivewal speaks the
 * replication protocol.
 */
import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import { connect, type PgTarget } from '../pg/connection.ts';
import { parseLsn, parseSegmentSizeSetting, type Lsn } from './lsn.ts';

export interface ServerIdentity {
  systemIdentifier: string;
  walSegmentSize: number;
  inRecovery: boolean;
  major: number;
  /** server_version_num, e.g. 170002 (recorded beside each base backup). */
  versionNum: number;
}

/** The slot name for a database: `hindsight_<db>`, lower-case letters, digits and `_`, ≤ 63 bytes. */
export function slotNameFor(database: string): string {
  return `hindsight_${database.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

export async function withServer<T>(
  label: string,
  target: PgTarget,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await connect(label, target);
  client.on('error', () => {
    /* a server restart ends the session; the caller's query fails instead */
  });
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Checks that the server can feed a WAL archive and names the fix when it cannot: wal_level must
 * be replica or logical, and the role needs the REPLICATION attribute.
 */
export async function checkStreamingPrerequisites(database: string, client: pg.Client): Promise<ServerIdentity> {
  const { rows } = await client.query<{
    sysid: string;
    segsize: string;
    wal_level: string;
    recovery: boolean;
    replication: boolean;
    num: string;
    senders: string;
  }>(
    `select (select system_identifier::text from pg_control_system()) as sysid,
            current_setting('wal_segment_size') as segsize, current_setting('wal_level') as wal_level,
            pg_is_in_recovery() as recovery, current_setting('server_version_num') as num,
            current_setting('max_wal_senders') as senders,
            (select rolreplication or rolsuper from pg_roles where rolname = current_user) as replication`,
  );
  const row = rows[0]!;
  if (!['replica', 'logical'].includes(row.wal_level)) {
    throw new HindsightError(
      'bad_input',
      `database "${database}": wal_level is "${row.wal_level}", but WAL archiving needs "replica" or "logical" (set wal_level = replica in postgresql.conf and restart PostgreSQL)`,
    );
  }
  if (!row.replication) {
    throw new HindsightError(
      'access_denied',
      `database "${database}": the role has no REPLICATION attribute, which pg_receivewal and pg_basebackup need (run ALTER ROLE <role> REPLICATION as a superuser, and allow "replication" connections for it in pg_hba.conf)`,
    );
  }
  if (Number(row.senders) < 1) {
    throw new HindsightError(
      'bad_input',
      `database "${database}": max_wal_senders is 0 (set it to at least 2 and restart PostgreSQL)`,
    );
  }
  return {
    systemIdentifier: row.sysid,
    walSegmentSize: parseSegmentSizeSetting(row.segsize.replace(/^(\d+)$/, '$1B')),
    inRecovery: row.recovery,
    major: Math.floor(Number(row.num) / 10000),
    versionNum: Number(row.num),
  };
}

/** Creates the physical slot if missing, reserving WAL at once (so nothing is lost before pg_receivewal connects). */
export async function ensurePhysicalSlot(client: pg.Client, slot: string): Promise<{ created: boolean }> {
  const { rows } = await client.query<{ slot_type: string }>(
    'select slot_type from pg_replication_slots where slot_name = $1',
    [slot],
  );
  if (rows[0]) {
    if (rows[0].slot_type !== 'physical')
      throw new HindsightError(
        'conflict',
        `replication slot "${slot}" exists but is ${rows[0].slot_type}, not physical (drop it or choose another slot name)`,
      );
    return { created: false };
  }
  try {
    await client.query('select pg_create_physical_replication_slot($1, true)', [slot]);
    return { created: true };
  } catch (error) {
    // Two starts racing: the other one created it.
    if ((error as { code?: string }).code === '42710') return { created: false };
    throw error;
  }
}

export async function dropSlot(client: pg.Client, slot: string): Promise<boolean> {
  const { rows } = await client.query<{ active_pid: number | null }>(
    'select active_pid from pg_replication_slots where slot_name = $1',
    [slot],
  );
  if (!rows[0]) return false;
  if (rows[0].active_pid) await client.query('select pg_terminate_backend($1)', [rows[0].active_pid]);
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await client.query('select pg_drop_replication_slot($1)', [slot]);
      return true;
    } catch (error) {
      // 55006: still active for a moment after its walsender was terminated.
      if ((error as { code?: string }).code !== '55006') throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new HindsightError(
    'busy',
    `replication slot "${slot}" stayed in use; drop it by hand with pg_drop_replication_slot('${slot}')`,
  );
}

/**
 * Whether the server invalidated the slot (`wal_status = 'lost'`, PostgreSQL 13 and later): it kept
 * more WAL than `max_slot_wal_keep_size` allows, the server removed that WAL, and the slot can never
 * stream again. Read through to_jsonb so that a server without the column answers false.
 */
export async function slotLost(client: pg.Client, slot: string): Promise<boolean> {
  const { rows } = await client.query<{ status: string | null }>(
    "select to_jsonb(s) ->> 'wal_status' as status from pg_replication_slots s where s.slot_name = $1",
    [slot],
  );
  return rows[0]?.status === 'lost';
}

export interface SlotPosition {
  /**
   * What the receiver connected to the slot right now confirmed as flushed (pg_stat_replication's
   * flush_lsn of the slot's walsender). Null while nothing is connected or before its first
   * feedback: the slot's restart_lsn may still be an older session's position, beyond what this
   * session's spool file holds.
   */
  flushedLsn: Lsn | null;
  /** The slot's restart_lsn: what the server keeps WAL for. */
  restartLsn: Lsn | null;
  /** The server's current WAL end: write position on a primary, receive position on a standby. */
  currentLsn: Lsn | null;
  /** WAL the slot keeps on the server's disk. */
  retainedBytes: number | null;
  active: boolean;
}

export async function slotPosition(client: pg.Client, slot: string): Promise<SlotPosition | undefined> {
  const { rows } = await client.query<{
    restart_lsn: string | null;
    flush_lsn: string | null;
    current: string | null;
    active: boolean;
  }>(
    `select s.restart_lsn::text, s.active, r.flush_lsn::text,
            (case when pg_is_in_recovery() then pg_last_wal_receive_lsn() else pg_current_wal_lsn() end)::text as current
     from pg_replication_slots s left join pg_stat_replication r on r.pid = s.active_pid
     where s.slot_name = $1`,
    [slot],
  );
  const row = rows[0];
  if (!row) return undefined;
  const restartLsn = row.restart_lsn ? parseLsn(row.restart_lsn) : null;
  const currentLsn = row.current ? parseLsn(row.current) : null;
  const retainedBytes =
    restartLsn !== null && currentLsn !== null ? Number(currentLsn > restartLsn ? currentLsn - restartLsn : 0n) : null;
  return {
    flushedLsn: row.active && row.flush_lsn ? parseLsn(row.flush_lsn) : null,
    restartLsn,
    currentLsn,
    retainedBytes,
    active: row.active,
  };
}
