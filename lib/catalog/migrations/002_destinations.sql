-- A database backs up to one or more storages, and every backup keeps one copy per storage.
create table database_storages (
  database_id bigint not null references databases(id) on delete cascade,
  storage_id bigint not null references storages(id),
  position integer not null,
  primary key (database_id, storage_id),
  unique (database_id, position)
);
insert into database_storages (database_id, storage_id, position) select id, storage_id, 0 from databases;
alter table databases drop column storage_id;

create table backup_copies (
  backup_id text not null references backups(id) on delete cascade,
  storage_id bigint not null references storages(id),
  status text not null check (status in ('pending', 'complete', 'failed')),
  size_bytes bigint,
  error text,
  attempts integer not null default 0,
  updated_at timestamptz not null default now(),
  primary key (backup_id, storage_id)
);
insert into backup_copies (backup_id, storage_id, status, size_bytes, error)
  select id, storage_id, case status when 'complete' then 'complete' when 'running' then 'pending' else 'failed' end, size_bytes, error
  from backups;
alter table backups drop column storage_id;

alter table backups drop constraint backups_status_check;
alter table backups add constraint backups_status_check check (status in ('running', 'complete', 'partial', 'failed', 'cancelled'));

-- Restores record which storage they read from (a fallback may pick another than the first).
alter table restores add column storage_name text;
