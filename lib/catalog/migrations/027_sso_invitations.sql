-- Single sign-on through OpenID Connect providers, the sign-ins under way, invitations by email,
-- and the installation-wide "SSO only" switch with its break-glass accounts.
create table identity_providers (
  id bigserial primary key,
  name text not null unique check (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  display_name text not null,
  issuer text not null,
  client_id text not null,
  -- Sealed with the secret key, bound to "identity-provider:<name>:client_secret".
  sealed_client_secret text not null,
  -- The ID token claim (a string or a list of strings) read for the mapping, e.g. "groups".
  claim text not null default 'groups',
  -- [{"value": "dba", "workspace": "default", "role": "admin"}, …]: each value of the claim that
  -- matches gives its role in its workspace; the highest role wins within a workspace.
  mappings jsonb not null default '[]',
  created_at timestamptz not null default now()
);

-- A person's account at a provider (its "sub"), linked to one Hindsight account.
create table user_identities (
  provider_id bigint not null references identity_providers(id) on delete cascade,
  subject text not null,
  user_id bigint not null references users(id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (provider_id, subject)
);
create index user_identities_by_user on user_identities (user_id);

-- A sign-in between the redirect to the provider and its callback. Only a SHA-256 of the state is
-- kept: the browser holds the state itself in a cookie, so a callback opened in another browser
-- (a login forced on someone) finds nothing. The row is consumed by the callback.
create table oidc_logins (
  state_sha256 text primary key,
  provider_id bigint not null references identity_providers(id) on delete cascade,
  nonce text not null,
  code_verifier text not null,
  next_path text not null default '/',
  invitation_sha256 text,
  expires_at timestamptz not null
);

-- An invitation to a workspace, sent as a one-time link; only a SHA-256 of its token is kept.
create table invitations (
  token_sha256 text primary key,
  email text not null,
  workspace_id bigint not null references workspaces(id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
  invited_by bigint references users(id) on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  accepted_at timestamptz,
  accepted_by bigint references users(id) on delete cascade
);
create index invitations_accepted on invitations (accepted_by, workspace_id) where accepted_by is not null;

-- An account that signs in only through a provider has no password.
alter table users alter column password_hash drop not null;
-- Break-glass accounts keep their password when the installation is switched to SSO only.
alter table users add column break_glass boolean not null default false;

-- The provider a console session was opened through, for its end-session endpoint at sign-out.
alter table sessions add column identity_provider_id bigint references identity_providers(id) on delete set null;

create table access_settings (
  singleton boolean primary key default true check (singleton),
  sso_only boolean not null default false
);
insert into access_settings default values;
