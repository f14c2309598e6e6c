-- Servers: a PostgreSQL cluster registered once, whose databases Hindsight can discover and back up
-- together. The system identifier is recorded so that a server's identity (and later its WAL
-- archive) stays tied to the cluster, not to a host name. A database registered by a server points
-- back at it; one the server no longer has is marked dropped, never removed, so its backups stay.
create table servers (
  id bigserial primary key,
  workspace_id bigint not null default 1,
  name text not null unique check (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  system_identifier text not null,
  server_version text not null,
  -- Where runs connect to list the databases: the URL's database (usually postgres), its role.
  username text not null,
  sealed_password text,
  host text not null,
  port integer not null check (port between 1 and 65535),
  sslmode text,
  dbname text not null,
  all_databases boolean not null default false,
  include_postgres boolean not null default false,
  excludes text[] not null default '{}',
  storage_names text[] not null default '{local}',
  schedule text,
  timezone text not null default 'UTC',
  retention_policy jsonb,
  -- Given to each database it registers (restore every new backup into a throwaway server).
  verify_after_backup boolean not null default true,
  last_run_at timestamptz,
  last_run jsonb,
  created_at timestamptz not null default now()
);

alter table databases add column server_id bigint references servers(id) on delete set null;
alter table databases add column dropped_at timestamptz;
create index databases_by_server on databases (server_id) where server_id is not null;
