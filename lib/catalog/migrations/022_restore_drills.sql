-- Restore drills (docs/verification-sandbox.md, "Restore drills"): a database's newest backup
-- restored on a schedule into a fresh database on a real server the operator names, timed, checked
-- and dropped. The target's URL holds a password: sealed like the database's own (key rotation
-- re-seals it, a rename seals it again for the new name).
alter table databases add column sealed_restore_drill_url text;
alter table databases add column restore_drill_cron text;

-- One row per drill. The target is recorded as host, port and database name only: never a password.
create table restore_drills (
  id text primary key,
  database_id bigint not null references databases(id) on delete cascade,
  backup_id text references backups(id) on delete set null,
  workflow_id text,
  trigger text not null check (trigger in ('schedule', 'manual')),
  target_host text,
  target_port integer,
  target_database text,
  status text not null check (status in ('running', 'successful', 'failed')),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  error text,
  time_to_usable_seconds double precision,
  restored_bytes bigint,
  tables_checked integer
);
create index restore_drills_by_database on restore_drills (database_id, started_at desc);
create index restore_drills_by_time on restore_drills (started_at);
