-- Every notification belongs to a workspace. One of no database (a server's discovered or dropped
-- database) is heard by the notifiers of its own workspace only, never by another tenant's; one of
-- a database keeps going to the notifiers attached to that database. Rows queued so far are kept as
-- they were delivered: a database's in its database's workspace, the others in workspace 1.
alter table notifications add column workspace_id bigint references workspaces(id);
update notifications n
set workspace_id = coalesce((select d.workspace_id from databases d where d.id = n.database_id), 1);
alter table notifications alter column workspace_id set not null;

-- A dedupe key is queued once per workspace: one tenant's key can never swallow another's row.
alter table notifications drop constraint notifications_dedupe_key_key;
create unique index notifications_dedupe_per_workspace on notifications (workspace_id, dedupe_key);
