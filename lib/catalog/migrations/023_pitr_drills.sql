-- PITR drills (docs/pitr.md, "Drills"): each run restores a server's archive into a sandbox, to a
-- target inside each recoverable window, and checks what it got. One row per target. A server's
-- window is "proven up to" the latest target of a passed drill.
-- The drill schedule of a server with PITR: a cron (weekly by default), null when drills are off.
alter table servers add column pitr_drill_schedule text default '17 4 * * 0';

create table pitr_drills (
  id bigserial primary key,
  server_id bigint not null references servers(id) on delete cascade,
  workflow_id text not null,
  window_text text not null,
  -- 'latest', or the RFC 3339 time the drill recovered to.
  target text not null,
  -- The time this target proves the window up to: the target time, or the window's end for 'latest'.
  proves_until timestamptz not null,
  reached_lsn text,
  reached_time timestamptz,
  outcome text not null check (outcome in ('passed', 'failed')),
  error text,
  -- {"outcome": "passed" | "failed" | "missing" | "unavailable", "detail": …, "ms": …}, null when the step did not run.
  verify_backup jsonb,
  amcheck jsonb,
  -- Milliseconds per restore stage (lib/pitr/stage-clock.ts) and of the drill as a whole.
  steps_ms jsonb not null default '{}',
  wal_bytes_per_second double precision,
  started_at timestamptz not null,
  finished_at timestamptz not null default now()
);
create index pitr_drills_of_server on pitr_drills (server_id, finished_at desc);
create index pitr_drills_by_time on pitr_drills (finished_at);
