-- Point-in-time recovery: per-database WAL archiving settings, the archived WAL segments and
-- timeline history files, and physical base backups. The archive is keyed by the server's system
-- identifier and timeline so that two clusters can never write one archive.
alter table databases add column pitr_enabled boolean not null default false;
alter table databases add column pitr_slot text;
alter table databases add column pitr_slot_max_bytes bigint check (pitr_slot_max_bytes is null or pitr_slot_max_bytes > 0);
alter table databases add column pitr_partial_interval_ms integer not null default 1000 check (pitr_partial_interval_ms between 100 and 3600000);
alter table databases add column base_backup_schedule text;
alter table databases add column sealed_base_backup_url text;
alter table databases add column agent text check (agent is null or agent ~ '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$');
alter table databases add column system_identifier text;
alter table databases add column wal_segment_size integer check (wal_segment_size is null or (wal_segment_size between 1048576 and 1073741824 and (wal_segment_size & (wal_segment_size - 1)) = 0));

create table wal_segments (
  database_id bigint not null references databases(id) on delete cascade,
  system_identifier text not null,
  timeline integer not null check (timeline >= 1),
  segno bigint not null check (segno >= 0),
  name text not null,
  start_lsn bigint not null,
  -- Exclusive end of the bytes stored: the segment end once complete, the flushed LSN while partial.
  end_lsn bigint not null check (end_lsn > start_lsn),
  complete boolean not null,
  size_bytes bigint not null,
  stored_bytes bigint not null,
  sha256 text not null,
  storage_name text not null,
  object_key text not null,
  received_at timestamptz not null default now(),
  primary key (database_id, system_identifier, timeline, segno)
);
create index wal_segments_by_time on wal_segments (database_id, received_at desc);

create table wal_histories (
  database_id bigint not null references databases(id) on delete cascade,
  system_identifier text not null,
  timeline integer not null check (timeline >= 1),
  content text not null,
  storage_name text not null,
  object_key text not null,
  received_at timestamptz not null default now(),
  primary key (database_id, system_identifier, timeline)
);

create table base_backups (
  id text primary key,
  database_id bigint not null references databases(id) on delete cascade,
  system_identifier text,
  timeline integer,
  start_lsn bigint,
  stop_lsn bigint,
  start_time timestamptz not null default now(),
  stop_time timestamptz,
  status text not null check (status in ('running', 'complete', 'failed', 'deleted')),
  storage_name text not null,
  object_key text not null,
  size_bytes bigint,
  stored_bytes bigint,
  sha256 text,
  source text not null check (source in ('primary', 'standby')),
  workflow_id text,
  error text,
  created_at timestamptz not null default now()
);
create index base_backups_by_database on base_backups (database_id, start_time desc);
