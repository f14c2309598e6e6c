/** Workspaces and who belongs to them with which role. */
import { DEFAULT_WORKSPACE_ID, type Role } from '../../lib/catalog/access.ts';
import { HindsightError } from '../../lib/errors.ts';
import { roleOf, type Actor } from '../authz.ts';
import { parseOrThrow, roleSchema, workspaceNameSchema } from './input.ts';
import { workspaceFor } from './lookups.ts';
import { authorizeRoleChange, keepAnOwner } from './owners.ts';
import type { AccessDeps } from './types.ts';

export function workspaceOperations({ store, authz, runtime }: AccessDeps) {
  return {
    workspaceFor: (actor: Actor, name: string) => workspaceFor(store, actor, name),

    async setMember(actor: Actor, email: string, workspaceName: string, rawRole: string): Promise<void> {
      const role = parseOrThrow(roleSchema, rawRole, 'role');
      const workspace = await workspaceFor(store, actor, workspaceName);
      await authz.authorize(actor, workspace.id, 'membership.manage', { type: 'workspace', name: workspace.name });
      const user = await store.findUserByEmail(String(email));
      // A workspace's admins reach only the accounts that accepted an invitation to it (or already
      // belong to it): the account of another workspace is answered like one that does not exist.
      // The CLI's local operator, who holds the secret key, is not bound by it.
      const reachable =
        user && (actor.kind !== 'user' || (await runtime.catalog.invitations.reachable(user.id, workspace.id)));
      if (!user || !reachable)
        throw new HindsightError(
          'not_found',
          `no account "${email}" accepted an invitation to workspace "${workspace.name}": invite them first (hindsight user invite, or the users page)`,
        );
      const current = (await store.memberships({ userId: user.id, workspaceId: workspace.id }))[0]?.role;
      await authorizeRoleChange(authz, actor, workspace, [role, current]);
      if (current !== role) await keepAnOwner(store, workspace.id, workspace.name, current);
      await store.setMembership(user.id, workspace.id, role);
      await authz.audit(actor, {
        workspaceId: workspace.id,
        action: 'membership.set',
        target: { type: 'user', name: user.email },
        outcome: 'ok',
        before: current ? { role: current } : null,
        after: { role },
      });
    },

    async removeMember(actor: Actor, email: string, workspaceName: string): Promise<void> {
      const workspace = await workspaceFor(store, actor, workspaceName);
      await authz.authorize(actor, workspace.id, 'membership.manage', { type: 'workspace', name: workspace.name });
      const user = await store.findUserByEmail(String(email));
      const current = user
        ? (await store.memberships({ userId: user.id, workspaceId: workspace.id }))[0]?.role
        : undefined;
      if (!user || !current)
        throw new HindsightError('not_found', `user "${email}" is not a member of workspace "${workspace.name}"`);
      await authorizeRoleChange(authz, actor, workspace, [current]);
      await keepAnOwner(store, workspace.id, workspace.name, current);
      await store.removeMembership(user.id, workspace.id);
      await authz.audit(actor, {
        workspaceId: workspace.id,
        action: 'membership.remove',
        target: { type: 'user', name: user.email },
        outcome: 'ok',
        before: { role: current },
        after: null,
      });
    },

    /** A new workspace; its creator becomes its owner. Owners of the default workspace may create them. */
    async createWorkspace(actor: Actor, rawName: string) {
      const name = parseOrThrow(workspaceNameSchema, rawName, 'workspace name');
      await authz.authorize(actor, DEFAULT_WORKSPACE_ID, 'workspace.manage', { type: 'workspace', name: 'default' });
      const workspace = await store.createWorkspace(name);
      if (actor.kind === 'user') await store.setMembership(actor.userId, workspace.id, 'owner');
      await authz.audit(actor, {
        workspaceId: workspace.id,
        action: 'workspace.create',
        target: { type: 'workspace', name },
        outcome: 'ok',
        before: null,
        after: { name },
      });
      return workspace;
    },

    async listWorkspaces(
      actor: Actor,
    ): Promise<Array<{ id: number; name: string; role: Role; members: number; databases: number; storages: number }>> {
      return (await store.workspaceSummaries())
        .map((w) => ({
          id: w.id,
          name: w.name,
          role: roleOf(actor, w.id)!,
          members: w.members,
          databases: w.databases,
          storages: w.storages,
        }))
        .filter((w) => w.role !== undefined);
    },
  };
}
