-- Storages, databases, backups and restores: the catalog of the vertical slice.
create table storages (
  id bigserial primary key,
  name text not null unique check (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  type text not null,
  config jsonb not null,
  sealed_secrets text,
  created_at timestamptz not null default now()
);

create table databases (
  id bigserial primary key,
  name text not null unique check (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  host text not null,
  port integer not null check (port between 1 and 65535),
  dbname text not null,
  username text not null,
  sealed_password text,
  sslmode text,
  storage_id bigint not null references storages(id),
  schedule text,
  timezone text not null default 'UTC',
  created_at timestamptz not null default now()
);

create table backups (
  id text primary key,
  database_id bigint not null references databases(id) on delete cascade,
  storage_id bigint not null references storages(id),
  workflow_id text not null,
  status text not null check (status in ('running', 'complete', 'failed', 'cancelled')),
  trigger text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  object_key text,
  size_bytes bigint,
  dump_bytes bigint,
  sha256 text,
  object_sha256 text,
  compression text,
  server_version text,
  tool_version text,
  row_counts jsonb,
  error text
);
create index backups_by_database on backups (database_id, started_at desc);

create table restores (
  id text primary key,
  backup_id text not null references backups(id) on delete cascade,
  workflow_id text not null,
  target text not null,
  status text not null check (status in ('running', 'verified', 'failed')),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  tables_checked integer,
  rows_checked bigint,
  mismatches jsonb,
  error text
);
create index restores_by_backup on restores (backup_id, started_at desc);
