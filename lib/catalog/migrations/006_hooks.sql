-- Hook scripts run before and after backups and after restores, and what each run did.
-- A hook belongs to one database, or (database_id null) to every database of a workspace.
create table hooks (
  id bigserial primary key,
  workspace_id bigint not null default 1,
  database_id bigint references databases(id) on delete cascade,
  kind text not null check (kind in ('pre_backup', 'post_backup', 'post_restore')),
  script text not null check (length(script) between 1 and 65536),
  timeout_seconds integer not null default 300 check (timeout_seconds between 1 and 86400),
  updated_at timestamptz not null default now(),
  updated_by text
);
-- One script per kind and scope; partial indexes rather than NULLS NOT DISTINCT (PostgreSQL 15+).
create unique index hooks_one_per_database on hooks (database_id, kind) where database_id is not null;
create unique index hooks_one_per_workspace on hooks (workspace_id, kind) where database_id is null;

create table hook_runs (
  id bigserial primary key,
  hook_id bigint references hooks(id) on delete set null,
  database_id bigint references databases(id) on delete cascade,
  scope text not null check (scope in ('workspace', 'database')),
  kind text not null check (kind in ('pre_backup', 'post_backup', 'post_restore')),
  workflow_id text not null,
  backup_id text,
  restore_id text,
  exit_code integer,
  signal text,
  timed_out boolean not null default false,
  duration_ms integer not null,
  output_tail text not null default '',
  output_truncated boolean not null default false,
  status text not null check (status in ('ok', 'warning', 'failed')),
  started_at timestamptz not null,
  finished_at timestamptz not null default now()
);
create index hook_runs_by_database on hook_runs (database_id, started_at desc);

-- A post hook that fails leaves the backup or restore as it was and says so here.
alter table backups add column warnings jsonb not null default '[]';
alter table restores add column warnings jsonb not null default '[]';
