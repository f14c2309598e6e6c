-- How many pg_dump jobs a logical backup of the database runs. 1 is the single-stream custom-format
-- dump every backup took before; above 1 the backup is a pg_dump directory archive written by that
-- many jobs and stored as one tar (docs/backup-format.md).
alter table databases add column parallel_jobs integer not null default 1
  check (parallel_jobs between 1 and 16);
