-- Each database's health state, kept by the batch health sweep (workflows/health-sweep.ts) instead
-- of a long-lived workflow per database. The full transition history stays in health_events;
-- `transitions` holds the recent ones (newest first) so that one row answers "how is it now".
create table database_health (
  database_id bigint primary key references databases(id) on delete cascade,
  status text not null default 'unknown' check (status in ('unknown', 'up', 'down')),
  since timestamptz,
  consecutive_failures integer not null default 0 check (consecutive_failures >= 0),
  last_probe_at timestamptz,
  last_error text,
  transitions jsonb not null default '[]'::jsonb
);
