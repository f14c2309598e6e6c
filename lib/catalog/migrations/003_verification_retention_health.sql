-- Restore verifications in throwaway servers, retention policies, health transitions, and the
-- outbox of notifications that channels deliver.
create table verifications (
  id text primary key,
  database_id bigint not null references databases(id) on delete cascade,
  backup_id text references backups(id) on delete set null,
  workflow_id text,
  trigger text not null,
  status text not null check (status in ('pending', 'running', 'successful', 'failed', 'superseded', 'cancelled')),
  requested_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  reason text,
  report jsonb
);
create index verifications_by_database on verifications (database_id, requested_at desc);
create index verifications_by_backup on verifications (backup_id, requested_at desc);

alter table databases add column verify_schedule text;
alter table databases add column verify_after_backup boolean not null default true;
alter table databases add column retention_policy jsonb;
alter table databases add column health_interval_seconds integer not null default 60 check (health_interval_seconds between 1 and 86400);
alter table databases add column health_failure_threshold integer not null default 3 check (health_failure_threshold between 1 and 100);

alter table backups drop constraint backups_status_check;
alter table backups add constraint backups_status_check check (status in ('running', 'complete', 'partial', 'failed', 'cancelled', 'deleted'));
alter table backups add column deleted_at timestamptz;
alter table backups add column deleted_reason text;

create table health_events (
  id bigserial primary key,
  database_id bigint not null references databases(id) on delete cascade,
  status text not null check (status in ('up', 'down')),
  at timestamptz not null default now(),
  detail text
);
create index health_events_by_database on health_events (database_id, at desc);

create table notifications (
  id bigserial primary key,
  database_id bigint references databases(id) on delete cascade,
  event text not null,
  message text not null,
  dedupe_key text unique,
  created_at timestamptz not null default now()
);
create index notifications_by_database on notifications (database_id, created_at desc);
