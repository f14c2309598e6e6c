-- The base backups a running point-in-time restore reads (the full backup and its increments).
-- Retention keeps them while a lease is current: the restore renews it while it runs and removes
-- its rows when it ends, and a restore whose worker died stops protecting them once it expires.
create table base_backups_in_use (
  workflow_id text not null,
  base_backup_id text not null references base_backups(id) on delete cascade,
  database text not null,
  expires_at timestamptz not null,
  primary key (workflow_id, base_backup_id)
);
create index base_backups_in_use_by_database on base_backups_in_use (database, expires_at);
