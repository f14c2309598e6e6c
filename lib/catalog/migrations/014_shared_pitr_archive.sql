-- Several databases of one PostgreSQL cluster on one PITR archive: WAL is cluster-wide, so the
-- first database turned on archives the cluster (its slot, its archiver) and every other database
-- of the same system identifier refers to it instead of streaming the same WAL a second time.
-- `restrict`: the archiving database cannot be removed while another database reads its archive.
alter table databases add column pitr_archive_database_id bigint references databases(id) on delete restrict;
alter table databases add constraint databases_pitr_archive_not_self check (pitr_archive_database_id <> id);
