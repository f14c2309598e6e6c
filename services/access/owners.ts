/** The rules that protect a workspace's owners: who may grant the role, and that one always remains. */
import type { AccessStore, Role } from '../../lib/catalog/access.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { Actor, Authz } from '../authz.ts';

/** Granting or taking away the owner role is the owners' business. */
export async function authorizeRoleChange(
  authz: Authz,
  actor: Actor,
  workspace: { id: number; name: string },
  roles: Array<Role | undefined>,
) {
  await authz.authorize(actor, workspace.id, 'membership.manage', { type: 'workspace', name: workspace.name });
  if (roles.includes('owner'))
    await authz.authorize(actor, workspace.id, 'workspace.manage', { type: 'workspace', name: workspace.name });
}

export async function keepAnOwner(
  store: AccessStore,
  workspaceId: number,
  workspaceName: string,
  losing: Role | undefined,
) {
  if (losing === 'owner' && (await store.countOwners(workspaceId)) <= 1) {
    throw new HindsightError(
      'conflict',
      `workspace "${workspaceName}" would have no owner left (make someone else owner first)`,
    );
  }
}
