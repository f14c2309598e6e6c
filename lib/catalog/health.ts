import type pg from 'pg';
import { bind, type Queryable } from './db.ts';
import { queueNotification as notify } from './health-outbox.ts';
import { carryHealthState, healthState, probeSchedules, recordProbes } from './health-state.ts';

export interface HealthEvent {
  status: 'up' | 'down';
  at: Date;
  detail: string | null;
}

export interface NotificationRecord {
  id: number;
  database: string | null;
  /** The workspace whose notifiers hear it (for a database's: the database's workspace when queued). */
  workspaceId: number;
  event: string;
  message: string;
  createdAt: Date;
}

async function recordTransition(
  db: Queryable,
  database: string,
  status: 'up' | 'down',
  detail: string | null,
): Promise<void> {
  await db.query(
    `insert into health_events (database_id, status, detail) select id, $2, $3 from databases where name = $1`,
    [database, status, detail],
  );
}

async function history(db: Queryable, database: string, limit = 200): Promise<HealthEvent[]> {
  const { rows } = await db.query<HealthEvent>(
    `select e.status, e.at, e.detail from health_events e join databases d on d.id = e.database_id
     where d.name = $1 order by e.at desc limit $2`,
    [database, limit],
  );
  return rows.map((r) => ({ status: r.status, at: r.at, detail: r.detail }));
}

async function notifications(db: Queryable, database?: string, limit = 200): Promise<NotificationRecord[]> {
  const { rows } = await db.query<{
    id: string;
    database: string | null;
    workspace_id: string;
    event: string;
    message: string;
    created_at: Date;
  }>(
    `select n.id, d.name as database, n.workspace_id, n.event, n.message, n.created_at from notifications n
     left join databases d on d.id = n.database_id
     where $1::text is null or d.name = $1 order by n.id desc limit $2`,
    [database ?? null, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    database: r.database,
    workspaceId: Number(r.workspace_id),
    event: r.event,
    message: r.message,
    createdAt: r.created_at,
  }));
}

/**
 * Each database's health state (health-state.ts), its up/down transitions (the uptime history)
 * and the outbox of notifications.
 */
export function createHealthStore(pool: pg.Pool) {
  return {
    ...bind(pool, { recordTransition, history, notify, notifications }),
    ...bind(pool, { probeSchedules, state: healthState, carry: carryHealthState, recordProbes }),
  };
}
