-- Login attempts per throttling key ("account:<email>|<address>" and "address:<address>") in a
-- fixed window: each attempt increments its keys in one statement before the password is checked,
-- so concurrent attempts cannot all read a count below the limit. Replaces login_failures, whose
-- account-wide lockout let anyone lock a known account out for hours.
create table login_attempts (
  key text primary key,
  window_start timestamptz not null default now(),
  attempts integer not null default 0
);
drop table login_failures;

-- The one-time token that authorizes creating the first owner on /setup: only its SHA-256 is kept,
-- and creating the owner deletes it in the same transaction.
create table setup_tokens (
  token_sha256 text primary key,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);

-- One-time links that set a user's password, issued by the local operator
-- (hindsight user reset-password): only the token's SHA-256 is kept, and using it deletes it.
create table password_resets (
  token_sha256 text primary key,
  user_id bigint not null references users(id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index password_resets_by_user on password_resets (user_id);
