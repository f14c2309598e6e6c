/**
 * PITR drills (migration 023): one row per target a drill restored to, and the drill schedule a
 * server keeps. A server's window is "proven up to" the latest `proves_until` of a passed drill.
 */
import { allRows, type Queryable } from './db.ts';
import type { DrillCheck } from '../pitr/drill-checks.ts';

export interface NewPitrDrill {
  server: string;
  workflowId: string;
  window: string;
  /** 'latest' or an RFC 3339 time. */
  target: string;
  provesUntil: Date;
  reachedLsn: string | null;
  reachedTime: Date | null;
  outcome: 'passed' | 'failed';
  error: string | null;
  verifyBackup: DrillCheck | null;
  amcheck: DrillCheck | null;
  stepsMs: Record<string, number>;
  walBytesPerSecond: number | null;
  startedAt: Date;
}

export interface PitrDrillRecord extends NewPitrDrill {
  id: number;
  finishedAt: Date;
}

interface DrillRow {
  id: string;
  server: string;
  workflow_id: string;
  window_text: string;
  target: string;
  proves_until: Date;
  reached_lsn: string | null;
  reached_time: Date | null;
  outcome: 'passed' | 'failed';
  error: string | null;
  verify_backup: DrillCheck | null;
  amcheck: DrillCheck | null;
  steps_ms: Record<string, number>;
  wal_bytes_per_second: number | null;
  started_at: Date;
  finished_at: Date;
}

function toDrill(row: DrillRow): PitrDrillRecord {
  return {
    id: Number(row.id),
    server: row.server,
    workflowId: row.workflow_id,
    window: row.window_text,
    target: row.target,
    provesUntil: row.proves_until,
    reachedLsn: row.reached_lsn,
    reachedTime: row.reached_time,
    outcome: row.outcome,
    error: row.error,
    verifyBackup: row.verify_backup,
    amcheck: row.amcheck,
    stepsMs: row.steps_ms,
    walBytesPerSecond: row.wal_bytes_per_second,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

const SELECT = `select d.*, s.name as server from pitr_drills d join servers s on s.id = d.server_id`;

export async function recordPitrDrill(db: Queryable, d: NewPitrDrill): Promise<PitrDrillRecord> {
  const { rows } = await db.query<{ id: string }>(
    `insert into pitr_drills (server_id, workflow_id, window_text, target, proves_until, reached_lsn, reached_time,
       outcome, error, verify_backup, amcheck, steps_ms, wal_bytes_per_second, started_at)
     select s.id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 from servers s where s.name = $1
     returning id`,
    [
      d.server,
      d.workflowId,
      d.window,
      d.target,
      d.provesUntil,
      d.reachedLsn,
      d.reachedTime,
      d.outcome,
      d.error,
      d.verifyBackup === null ? null : JSON.stringify(d.verifyBackup),
      d.amcheck === null ? null : JSON.stringify(d.amcheck),
      JSON.stringify(d.stepsMs),
      d.walBytesPerSecond,
      d.startedAt,
    ],
  );
  const id = rows[0]?.id;
  const [record] = id ? await allRows(db, `${SELECT} where d.id = $1`, [id], toDrill) : [];
  if (!record) throw new Error(`server "${d.server}" is not registered: its drill was not recorded`);
  return record;
}

/** The server's drills, newest first. */
export function drillsOf(db: Queryable, server: string, limit = 20): Promise<PitrDrillRecord[]> {
  return allRows(
    db,
    `${SELECT} where s.name = $1 order by d.finished_at desc, d.id desc limit $2`,
    [server, limit],
    toDrill,
  );
}

export interface DrillSummary {
  server: string;
  /** The latest target a passed drill recovered to; null until one passed. */
  provenUpTo: Date | null;
  lastOutcome: 'passed' | 'failed' | null;
  lastAt: Date | null;
  lastError: string | null;
}

/** Per server that has drills (or the one named): proven-up-to and the newest drill's outcome. */
export async function drillSummaries(db: Queryable, server?: string): Promise<DrillSummary[]> {
  const { rows } = await db.query<{
    server: string;
    proven: Date | null;
    outcome: 'passed' | 'failed';
    finished_at: Date;
    error: string | null;
  }>(
    `select s.name as server,
            (select max(p.proves_until) from pitr_drills p where p.server_id = s.id and p.outcome = 'passed') as proven,
            l.outcome, l.finished_at, l.error
       from servers s
       join lateral (select outcome, finished_at, error from pitr_drills d where d.server_id = s.id
                     order by d.finished_at desc, d.id desc limit 1) l on true
      where $1::text is null or s.name = $1
      order by s.name`,
    [server ?? null],
  );
  return rows.map((r) => ({
    server: r.server,
    provenUpTo: r.proven,
    lastOutcome: r.outcome,
    lastAt: r.finished_at,
    lastError: r.error,
  }));
}

/** The server's drill cron; null when drills are off. */
export async function drillSchedule(db: Queryable, server: string): Promise<string | null> {
  const { rows } = await db.query<{ c: string | null }>(
    'select pitr_drill_schedule as c from servers where name = $1',
    [server],
  );
  return rows[0]?.c ?? null;
}

export async function setDrillSchedule(db: Queryable, server: string, cron: string | null): Promise<void> {
  await db.query('update servers set pitr_drill_schedule = $2 where name = $1', [server, cron]);
}
