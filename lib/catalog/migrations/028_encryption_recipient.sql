-- Public-key mode: the database's backups, roles, WAL and base backups are encrypted for this X25519
-- recipient (lib/crypto/wrap/x25519.ts). Workers can write for it but not read what they wrote; only
-- the holder of its identity file can. Null: the installation's secret key, as before. The recipient
-- is also in every object's header, so a restore never needs this column.
alter table databases add column encryption_recipient text
  check (encryption_recipient is null or encryption_recipient ~ '^hspub1[A-Za-z0-9_-]{43}$');

-- A verification of a public-key mode backup on a host without the recipient's identity file is
-- skipped, with the reason, rather than failed: the backup is not at fault.
alter table verifications drop constraint verifications_status_check;
alter table verifications add constraint verifications_status_check
  check (status in ('pending', 'running', 'successful', 'failed', 'superseded', 'cancelled', 'skipped'));
