/** Reading accounts and workspaces as an actor may see them. */
import type { AccessStore, UserRecord } from '../../lib/catalog/access.ts';
import { notFound, roleOf, type Actor } from '../authz.ts';
import type { UserWithMemberships } from './types.ts';

/** The actor of a user id, or undefined when the account is gone or disabled. */
export async function actorForUser(store: AccessStore, userId: number, source: string): Promise<Actor | undefined> {
  const user = await store.getUserById(userId);
  if (!user || user.disabled) return undefined;
  const memberships = new Map((await store.membershipsOfUser(userId)).map((m) => [m.workspaceId, m.role] as const));
  return { kind: 'user', userId, email: user.email, memberships, instanceOwner: user.instanceOwner, source };
}

/** The workspace of this name, if the actor may see it; otherwise "does not exist". */
export async function workspaceFor(
  store: AccessStore,
  actor: Actor,
  name: string,
): Promise<{ id: number; name: string }> {
  const workspace = await store.findWorkspace(name);
  if (!workspace || roleOf(actor, workspace.id) === undefined) throw notFound({ type: 'workspace', name });
  return workspace;
}

export async function userWithMemberships(store: AccessStore, user: UserRecord): Promise<UserWithMemberships> {
  const memberships = (await store.membershipsOfUser(user.id)).map((m) => ({
    workspace: m.workspace,
    workspaceId: m.workspaceId,
    role: m.role,
  }));
  return { ...user, memberships };
}
