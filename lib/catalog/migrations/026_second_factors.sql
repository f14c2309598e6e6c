-- Second factors: TOTP (RFC 6238), one-time recovery codes and passkeys (WebAuthn); the short-lived
-- challenges between a password and its second factor; and a workspace's requirement of one.
create table totp_factors (
  id bigserial primary key,
  user_id bigint not null unique references users(id) on delete cascade,
  -- The record's name for key rotation (lib/catalog/sealed-columns.ts): the secret is bound to its user.
  name text generated always as (user_id::text) stored,
  -- Sealed with the secret key (context "user:<id>:totp"): a copy of the catalog mints no codes.
  sealed_secret text not null,
  -- Null while enrolling: the factor counts only once a first code confirmed it.
  confirmed_at timestamptz,
  -- The last accepted time step: a code of this step or an earlier one is refused, so none is used twice.
  last_step bigint not null default 0,
  created_at timestamptz not null default now()
);

-- Only a SHA-256 of each 80-bit code is stored; a used code keeps its row with used_at set.
create table recovery_codes (
  user_id bigint not null references users(id) on delete cascade,
  code_sha256 text not null,
  used_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (user_id, code_sha256)
);

create table passkeys (
  id bigserial primary key,
  user_id bigint not null references users(id) on delete cascade,
  -- base64url, as WebAuthn names the credential.
  credential_id text not null unique,
  public_key bytea not null,
  sign_count bigint not null default 0,
  transports text[] not null default '{}',
  name text not null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz
);
create index passkeys_by_user on passkeys (user_id);

-- The half-signed-in state after a correct password ('second_factor', with its user), a passkey
-- sign-in under way ('passkey_sign_in', no user yet) and a passkey being registered
-- ('passkey_register'). Only a SHA-256 of the cookie's token is stored; none of them opens a session.
create table auth_challenges (
  token_sha256 text primary key,
  purpose text not null check (purpose in ('second_factor', 'passkey_sign_in', 'passkey_register')),
  user_id bigint references users(id) on delete cascade,
  -- The WebAuthn challenge handed to the browser, when one was asked for.
  challenge text,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);

alter table workspaces add column require_second_factor boolean not null default false;
