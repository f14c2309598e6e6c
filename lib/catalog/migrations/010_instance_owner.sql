-- The owner of the installation: beyond any workspace role, the one account (besides the CLI's
-- local operator) that may set what runs code or touches paths on the shared worker (hook
-- scripts, the rclone binary, flags and config, local storage paths outside a workspace's root).
alter table users add column instance_owner boolean not null default false;

-- An existing installation's instance owner is the account the first console visit created: the
-- earliest owner of the default workspace.
update users set instance_owner = true
 where id = (select min(m.user_id) from memberships m join users u on u.id = m.user_id
              where m.workspace_id = 1 and m.role = 'owner' and not u.disabled);
