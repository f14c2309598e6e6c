-- Users, workspaces and roles, login sessions and rate limiting, and the audit log.
create table workspaces (
  id bigserial primary key,
  name text not null unique check (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  created_at timestamptz not null default now()
);
insert into workspaces (id, name) values (1, 'default');
select setval(pg_get_serial_sequence('workspaces', 'id'), 1);

alter table databases add column workspace_id bigint not null default 1 references workspaces(id);
alter table storages add column workspace_id bigint not null default 1 references workspaces(id);
create index databases_by_workspace on databases (workspace_id);
create index storages_by_workspace on storages (workspace_id);

create table users (
  id bigserial primary key,
  email text not null,
  display_name text not null default '',
  -- scrypt$N$r$p$salt$hash (base64): the parameters travel with the hash so they can be raised later.
  password_hash text not null,
  disabled boolean not null default false,
  created_at timestamptz not null default now()
);
create unique index users_email_unique on users (lower(email));

create table memberships (
  user_id bigint not null references users(id) on delete cascade,
  workspace_id bigint not null references workspaces(id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
  created_at timestamptz not null default now(),
  primary key (user_id, workspace_id)
);

-- Only a SHA-256 of the 256-bit token is stored: a copy of this table opens no session.
create table sessions (
  token_sha256 text primary key,
  user_id bigint not null references users(id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  last_seen_at timestamptz not null default now(),
  ip text,
  user_agent text
);
create index sessions_by_user on sessions (user_id);

-- Failed logins per account ("email:<address>") and per client ("ip:<address>"); kept in the
-- catalog so that a lockout survives a restart of the console.
create table login_failures (
  key text primary key,
  failures integer not null default 0,
  last_failure_at timestamptz not null default now(),
  locked_until timestamptz
);

create table audit_log (
  id bigserial primary key,
  at timestamptz not null default now(),
  actor_user_id bigint references users(id) on delete set null,
  -- The user's email, cli:<os user> or system: kept as text so the entry outlives the account.
  actor text not null,
  workspace_id bigint references workspaces(id) on delete set null,
  action text not null,
  target_type text,
  target_name text,
  -- The client's IP address, or "cli".
  source text,
  outcome text not null check (outcome in ('ok', 'denied', 'failed')),
  before jsonb,
  after jsonb,
  detail text
);
create index audit_log_by_time on audit_log (at desc);
create index audit_log_by_workspace on audit_log (workspace_id, at desc);
