-- A bounded catalog (docs/operations.md, "Catalog maintenance"). A verification describes one
-- backup: when the backup's row goes, its verifications go with it (they were set to null, which
-- left reports about nothing that piled up forever). Copies and restores already cascade.
alter table verifications drop constraint verifications_backup_id_fkey;
alter table verifications add constraint verifications_backup_id_fkey
  foreign key (backup_id) references backups(id) on delete cascade;

-- The daily pruning deletes by age in small batches; each batch finds its rows through these
-- indexes instead of scanning a large table while it holds its locks.
create index backups_deleted_by_time on backups (deleted_at) where status = 'deleted';
create index backups_failed_by_time on backups (started_at) where status in ('failed', 'cancelled');
create index base_backups_ended_by_time on base_backups (start_time) where status in ('deleted', 'failed');
create index restores_by_time on restores (started_at);
create index verifications_by_time on verifications (requested_at);
create index hook_runs_by_time on hook_runs (finished_at);
create index health_events_by_time on health_events (at);
create index notifications_by_time on notifications (created_at);
create index sessions_by_expiry on sessions (expires_at);
