-- PITR of a whole server: WAL is cluster-wide, so a server's archive is one slot, one stream and one
-- chain of base backups, carried by one database record (the server's own connection database, or
-- a database that archived the cluster alone before and was taken over). Every other database of
-- the server shares it through databases.pitr_archive_database_id (migration 014). `set null`: the
-- carrier cannot be removed while others share it (014's restrict), and once alone it may go.
alter table servers add column pitr_archive_database_id bigint references databases(id) on delete set null;
