-- KMS mode: named KMS keys held by the installation (hindsight key kms add). `key_ref` is what
-- object headers name (an AWS key's ARN, a Vault transit key's name), so a restore finds the key
-- here by the header alone; the credentials are sealed with the secret key. Every object's header
-- also names its KMS key, so storage, that key and credentials for it restore without this table.
create table kms_keys (
  id bigserial primary key,
  name text not null unique,
  provider text not null check (provider in ('aws', 'vault')),
  key_ref text not null,
  settings jsonb not null,
  sealed_secrets text,
  created_at timestamptz not null default now()
);

-- A database in KMS mode names its key; a named key cannot be removed while a database uses it.
alter table databases add column encryption_kms text references kms_keys (name) on delete restrict;
alter table databases add constraint databases_one_encryption_mode
  check (encryption_kms is null or encryption_recipient is null);
