/**
 * Each database's health state (`database_health`, migration 019): what the batch sweep reads to
 * pick the databases due for a check and writes after each batch, in one transaction with the
 * transitions (`health_events`) and their notifications, so that a retried batch never notifies
 * a transition twice.
 */
import type pg from 'pg';
import { withTransaction, type Queryable } from './db.ts';
import { queueNotification, type QueuedNotice } from './health-outbox.ts';
import {
  applyProbe,
  initialHealthState,
  type HealthState,
  type HealthTransition,
  type ProbeResult,
  type ProbeSchedule,
} from './health-rules.ts';

interface StateRow {
  name: string;
  status: HealthState['status'] | null;
  since: Date | null;
  consecutive_failures: number | null;
  last_probe_at: Date | null;
  last_error: string | null;
  transitions: HealthTransition[] | null;
}

const STATE_COLUMNS = `d.name, h.status, h.since, h.consecutive_failures, h.last_probe_at, h.last_error, h.transitions`;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function stateOf(row: StateRow): HealthState {
  if (row.status === null) return initialHealthState(row.name);
  return {
    database: row.name,
    status: row.status,
    since: iso(row.since),
    consecutiveFailures: row.consecutive_failures ?? 0,
    lastProbeAt: iso(row.last_probe_at),
    lastError: row.last_error,
    transitions: row.transitions ?? [],
  };
}

/** When every database still present on its server was last checked, and how often it is to be. */
export async function probeSchedules(db: Queryable): Promise<ProbeSchedule[]> {
  const { rows } = await db.query<{ name: string; interval: number; last_probe_at: Date | null }>(
    `select d.name, d.health_interval_seconds as interval, h.last_probe_at
     from databases d left join database_health h on h.database_id = d.id where d.dropped_at is null`,
  );
  return rows.map((r) => ({ database: r.name, intervalSeconds: r.interval, lastProbeAt: r.last_probe_at }));
}

/** A registered database's health ('unknown' until its first check); undefined for one not registered. */
export async function healthState(db: Queryable, database: string): Promise<HealthState | undefined> {
  const { rows } = await db.query<StateRow>(
    `select ${STATE_COLUMNS} from databases d left join database_health h on h.database_id = d.id where d.name = $1`,
    [database],
  );
  return rows[0] ? stateOf(rows[0]) : undefined;
}

/**
 * Takes over the state a per-database monitor of an earlier version held, for a database the
 * sweep has not checked yet: its status stays, so a database that was down notifies its recovery.
 */
export async function carryHealthState(
  db: Queryable,
  database: string,
  carried: Pick<HealthState, 'status' | 'since' | 'consecutiveFailures'>,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into database_health (database_id, status, since, consecutive_failures)
     select id, $2, $3, $4 from databases where name = $1
     on conflict (database_id) do nothing`,
    [database, carried.status, carried.since, carried.consecutiveFailures],
  );
  return (rowCount ?? 0) > 0;
}

export interface ProbeRecord {
  database: string;
  probe: ProbeResult;
  at: Date;
}

export interface RecordedProbes {
  states: HealthState[];
  transitions: Array<HealthTransition & { database: string }>;
  /** The notifications queued (not those already queued by an earlier try of the same batch). */
  queued: QueuedNotice[];
}

/**
 * Applies a batch of check results to the databases' states (health-rules.ts) in one transaction:
 * the new states, a `health_events` row per transition and the transition's notification.
 * A database removed meanwhile is skipped.
 */
export async function recordProbes(pool: pg.Pool, records: ProbeRecord[]): Promise<RecordedProbes> {
  const names = records.map((r) => r.database);
  return withTransaction(pool, async (tx) => {
    await tx.query(
      `insert into database_health (database_id) select id from databases where name = any($1) on conflict do nothing`,
      [names],
    );
    const { rows } = await tx.query<StateRow & { threshold: number }>(
      `select ${STATE_COLUMNS}, d.health_failure_threshold as threshold
       from database_health h join databases d on d.id = h.database_id where d.name = any($1)
       order by d.id for update of h`,
      [names],
    );
    const current = new Map(rows.map((r) => [r.name, r]));
    const result: RecordedProbes = { states: [], transitions: [], queued: [] };
    for (const record of records) {
      const row = current.get(record.database);
      if (!row) continue;
      const outcome = applyProbe(stateOf(row), record.probe, row.threshold, record.at);
      result.states.push(outcome.state);
      if (outcome.transition) result.transitions.push({ database: record.database, ...outcome.transition });
      const notice = outcome.notice && { database: record.database, ...outcome.notice };
      if (notice && (await queueNotification(tx, notice))) result.queued.push(notice);
    }
    await writeStates(tx, result);
    return result;
  });
}

/** One statement for the batch's states and one for its transitions, however large the batch. */
async function writeStates(tx: Queryable, recorded: RecordedProbes): Promise<void> {
  await tx.query(
    `update database_health h set status = s.status, since = s.since, consecutive_failures = s."consecutiveFailures",
       last_probe_at = s."lastProbeAt", last_error = s."lastError", transitions = s.transitions
     from jsonb_to_recordset($1::jsonb) as s(database text, status text, since timestamptz,
       "consecutiveFailures" integer, "lastProbeAt" timestamptz, "lastError" text, transitions jsonb),
       databases d
     where d.name = s.database and h.database_id = d.id`,
    [JSON.stringify(recorded.states)],
  );
  if (recorded.transitions.length === 0) return;
  await tx.query(
    `insert into health_events (database_id, status, at, detail)
     select d.id, t.status, t.at, t.detail
     from jsonb_to_recordset($1::jsonb) as t(database text, status text, at timestamptz, detail text)
     join databases d on d.name = t.database`,
    [JSON.stringify(recorded.transitions)],
  );
}
