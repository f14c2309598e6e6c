-- Personal API tokens: a user's key for /api/v1, limited to one workspace and a role there.
-- Only a SHA-256 of the secret is stored (the secret has 256 random bits, so a plain hash is as
-- strong as a slow one): a copy of this table authenticates nobody.
create table api_tokens (
  id bigserial primary key,
  user_id bigint not null references users(id) on delete cascade,
  workspace_id bigint not null references workspaces(id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
  name text not null check (length(name) between 1 and 100),
  -- The first characters of the secret, shown in lists so that a leaked token can be recognised.
  prefix text not null,
  token_sha256 text not null unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_tokens_by_user on api_tokens (user_id);
