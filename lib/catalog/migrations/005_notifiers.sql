-- Notifiers (email, Slack, Discord, Teams, Telegram, webhook) per workspace, attached per database,
-- the delivery of every outbox row to each of them, and the overdue-backup threshold.
create table notifiers (
  id bigserial primary key,
  workspace_id bigint not null default 1,
  name text not null unique,
  type text not null check (type in ('email', 'slack', 'discord', 'teams', 'telegram', 'webhook')),
  -- Settings without secrets; the secrets are sealed with the secret key.
  config jsonb not null,
  sealed_secrets text,
  -- Where it sends, without secrets (shown in the CLI and console).
  summary text not null,
  events text[] not null,
  consecutive_failures integer not null default 0,
  last_error text,
  last_success_at timestamptz,
  last_failure_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table database_notifiers (
  database_id bigint not null references databases(id) on delete cascade,
  notifier_id bigint not null references notifiers(id) on delete cascade,
  primary key (database_id, notifier_id)
);
create index database_notifiers_by_notifier on database_notifiers (notifier_id);

-- Set once the deliveries of a notification are planned: unplanned rows are what a sweep picks up.
alter table notifications add column planned_at timestamptz;
create index notifications_unplanned on notifications (id) where planned_at is null;

create table notification_deliveries (
  id bigserial primary key,
  notification_id bigint not null references notifications(id) on delete cascade,
  notifier_id bigint not null references notifiers(id) on delete cascade,
  status text not null check (status in ('pending', 'sent', 'failed')),
  attempts integer not null default 0,
  last_error text,
  response text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (notification_id, notifier_id)
);
create index notification_deliveries_by_notifier on notification_deliveries (notifier_id, id desc);
create index notification_deliveries_pending on notification_deliveries (id) where status = 'pending';

-- No complete backup for this many hours queues backup_overdue (null: no watchdog for this database).
alter table databases add column backup_overdue_hours double precision check (backup_overdue_hours > 0 and backup_overdue_hours <= 8760);
