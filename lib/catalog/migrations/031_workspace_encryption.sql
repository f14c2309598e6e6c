-- A workspace's default encryption: public-key mode for an X25519 recipient, or KMS mode with a
-- named KMS key. Every database of the workspace without its own setting is encrypted that way;
-- each object's header still names its recipient or KMS key, so a restore never reads this table.
alter table workspaces add column encryption_recipient text
  check (encryption_recipient is null or encryption_recipient ~ '^hspub1[A-Za-z0-9_-]{43}$');
alter table workspaces add column encryption_kms text references kms_keys (name) on delete restrict;
alter table workspaces add constraint workspaces_one_encryption_mode
  check (encryption_kms is null or encryption_recipient is null);

-- A database's own choice of the installation's secret key, over its workspace's default. A
-- database with none of the three follows its workspace (and without one, the secret key).
alter table databases add column encryption_secret_key boolean not null default false;
alter table databases add constraint databases_secret_key_alone
  check (not encryption_secret_key or (encryption_recipient is null and encryption_kms is null));
