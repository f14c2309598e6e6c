/** Accounts as workspace admins manage them: inviting, listing, disabling, installation ownership. */
import { hashPassword } from '../../lib/access/password.ts';
import type { Role, UserRecord } from '../../lib/catalog/access.ts';
import { HindsightError } from '../../lib/errors.ts';
import { isInstanceLevel, notFound, roleOf, type Actor } from '../authz.ts';
import { displayNameSchema, emailSchema, parseOrThrow, passwordSchema, roleSchema } from './input.ts';
import { userWithMemberships, workspaceFor } from './lookups.ts';
import { authorizeRoleChange, keepAnOwner } from './owners.ts';
import type { AccessDeps, UserWithMemberships } from './types.ts';

/**
 * Invites someone: creates the account with a role in one workspace. Making them an owner of
 * the installation too (`instanceOwner`) is for the instance owner or the operator only.
 */
async function createUser(
  { store, authz }: AccessDeps,
  actor: Actor,
  input: {
    email: string;
    password: string;
    displayName?: string;
    workspace?: string;
    role: Role;
    instanceOwner?: boolean;
  },
): Promise<UserWithMemberships> {
  const email = parseOrThrow(emailSchema, input.email, 'email');
  const password = parseOrThrow(passwordSchema, input.password, 'password');
  const role = parseOrThrow(roleSchema, input.role, 'role');
  const displayName = parseOrThrow(displayNameSchema, input.displayName ?? '', 'display name');
  const workspace = await workspaceFor(store, actor, input.workspace ?? 'default');
  await authz.authorize(actor, workspace.id, 'user.manage', { type: 'workspace', name: workspace.name });
  await authorizeRoleChange(authz, actor, workspace, [role]);
  const target = { type: 'user', name: email };
  const instanceOwner = input.instanceOwner === true;
  if (instanceOwner && !isInstanceLevel(actor)) {
    await authz.audit(actor, {
      workspaceId: workspace.id,
      action: 'user.create',
      target,
      outcome: 'denied',
      detail: 'only the instance owner may make another instance owner',
    });
    throw new HindsightError(
      'forbidden',
      "an instance owner may run programs on the shared worker: only the instance owner (or the CLI's local operator) may make another one",
    );
  }
  try {
    const user = await store.createUser({
      email,
      displayName,
      passwordHash: await hashPassword(password),
      instanceOwner,
    });
    await store.setMembership(user.id, workspace.id, role);
    await authz.audit(actor, {
      workspaceId: workspace.id,
      action: 'user.create',
      target,
      outcome: 'ok',
      before: null,
      after: { email, displayName, workspace: workspace.name, role, instanceOwner },
    });
    return userWithMemberships(store, user);
  } catch (error) {
    await authz.audit(actor, {
      workspaceId: workspace.id,
      action: 'user.create',
      target,
      outcome: 'failed',
      detail: (error as Error).message,
    });
    throw error;
  }
}

/** Disabling an account ends its sessions; it needs user.manage in every workspace the account belongs to. */
async function setUserDisabled(
  { store, authz }: AccessDeps,
  actor: Actor,
  email: string,
  disabled: boolean,
): Promise<UserRecord> {
  const user = await store.findUserByEmail(String(email));
  const memberships = user ? await store.membershipsOfUser(user.id) : [];
  if (!user || (actor.kind === 'user' && !memberships.some((m) => roleOf(actor, m.workspaceId) !== undefined)))
    throw notFound({ type: 'user', name: email });
  for (const m of memberships) {
    await authz.authorize(actor, m.workspaceId, 'user.manage', { type: 'user', name: user.email });
    if (m.role === 'owner')
      await authz.authorize(actor, m.workspaceId, 'workspace.manage', { type: 'user', name: user.email });
    if (disabled) await keepAnOwner(store, m.workspaceId, m.workspace, m.role);
  }
  const updated = await store.setUserDisabled(user.email, disabled);
  for (const m of memberships.length ? memberships : [{ workspaceId: null }]) {
    await authz.audit(actor, {
      workspaceId: m.workspaceId,
      action: disabled ? 'user.disable' : 'user.enable',
      target: { type: 'user', name: user.email },
      outcome: 'ok',
      before: { disabled: user.disabled },
      after: { disabled },
    });
  }
  return updated;
}

/** Grants or takes the installation's ownership; only the instance owner or the operator may. */
async function setInstanceOwner(
  { store, authz }: AccessDeps,
  actor: Actor,
  email: string,
  instanceOwner: boolean,
): Promise<UserRecord> {
  const user = await store.findUserByEmail(String(email));
  if (!user) throw notFound({ type: 'user', name: email });
  const target = { type: 'user', name: user.email };
  if (!isInstanceLevel(actor)) {
    await authz.audit(actor, {
      workspaceId: null,
      action: 'user.instanceOwner',
      target,
      outcome: 'denied',
      detail: 'only the instance owner may change who owns the instance',
    });
    throw new HindsightError(
      'forbidden',
      "an instance owner may run programs on the shared worker: only the instance owner (or the CLI's local operator) may grant or take it",
    );
  }
  await store.setInstanceOwner(user.id, instanceOwner);
  await authz.audit(actor, {
    workspaceId: null,
    action: 'user.instanceOwner',
    target,
    outcome: 'ok',
    before: { instanceOwner: user.instanceOwner },
    after: { instanceOwner },
  });
  return { ...(await store.getUser(user.email)) };
}

/** Accounts as workspace admins manage them. */
export function userOperations(deps: AccessDeps) {
  const { store, authz } = deps;
  return {
    createUser: (actor: Actor, input: Parameters<typeof createUser>[2]) => createUser(deps, actor, input),

    /** Accounts that share a workspace with the actor (all of them for the operator). */
    async listUsers(actor: Actor): Promise<UserWithMemberships[]> {
      const visible = new Set(await authz.workspacesAllowing(actor, 'history.read'));
      const users = await Promise.all((await store.listUsers()).map((u) => userWithMemberships(store, u)));
      if (actor.kind !== 'user') return users;
      return users
        .map((u) => ({ ...u, memberships: u.memberships.filter((m) => visible.has(m.workspaceId)) }))
        .filter((u) => u.memberships.length > 0 || u.id === actor.userId);
    },

    setUserDisabled: (actor: Actor, email: string, disabled: boolean) => setUserDisabled(deps, actor, email, disabled),
    setInstanceOwner: (actor: Actor, email: string, instanceOwner: boolean) =>
      setInstanceOwner(deps, actor, email, instanceOwner),
  };
}
