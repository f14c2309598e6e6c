-- Notifiers and workspace-wide hook scripts belong to a workspace like databases and storages do.
alter table notifiers add constraint notifiers_workspace_fk foreign key (workspace_id) references workspaces(id);
alter table hooks add constraint hooks_workspace_fk foreign key (workspace_id) references workspaces(id);
