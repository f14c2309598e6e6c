-- What the archiver does when its replication slot retains more WAL than pitr_slot_max_bytes for
-- longer than one check: 'alert' queues wal_slot_bloat (the server keeps the WAL), 'drop' drops and
-- recreates the slot to protect the source's disk, accepting a gap in the archive (notified, and a
-- base backup starts a new recoverable window).
alter table databases add column pitr_slot_over_limit text not null default 'alert'
  check (pitr_slot_over_limit in ('alert', 'drop'));
-- Synchronous PITR: the receiver acts as a synchronous standby named hindsight_<db> and confirms a
-- flush position only once the WAL up to it is in storage.
alter table databases add column pitr_synchronous boolean not null default false;
