-- Incremental base backups (PostgreSQL 17+): a base backup is either a full copy or an increment
-- over its parent, which must stay restorable for the increment to be. The parent's own
-- backup_manifest (the input of pg_basebackup --incremental) is stored as an object of its own
-- beside each base backup. `full_every` is how many base backups a chain holds at most, its full
-- included: 1 takes a full every time.
alter table databases add column base_backup_full_every integer not null default 7
  check (base_backup_full_every between 1 and 1000);

alter table base_backups add column kind text not null default 'full' check (kind in ('full', 'incremental'));
alter table base_backups add column parent_id text references base_backups(id);
alter table base_backups add column manifest_key text;
-- Why a full was taken where an increment could have been (summarize_wal off, a broken chain…).
alter table base_backups add column kind_reason text;
alter table base_backups add constraint base_backups_parent_matches_kind
  check ((kind = 'full') = (parent_id is null));
create index base_backups_by_parent on base_backups (parent_id) where parent_id is not null;
