/** Accounts as workspace admins manage them: listing, disabling, installation ownership, the operator's owners. */
import { hashPassword } from '../../lib/access/password.ts';
import type { UserRecord } from '../../lib/catalog/access.ts';
import { HindsightError } from '../../lib/errors.ts';
import { isInstanceLevel, notFound, roleOf, type Actor } from '../authz.ts';
import { displayNameSchema, emailSchema, parseOrThrow, passwordSchema } from './input.ts';
import { userWithMemberships, workspaceFor } from './lookups.ts';
import { keepAnOwner } from './owners.ts';
import type { AccessDeps, UserWithMemberships } from './types.ts';

/**
 * The one account an admin still gives a password: an owner of a workspace and of the installation,
 * made by the local operator on the server (the first owner, or a rescue when nobody can sign in).
 * It is marked break-glass, so it signs in with its password even under SSO only. Everyone else is
 * invited and chooses their own password (services/access/invitations.ts).
 */
async function createOwner(
  { store, authz, runtime }: AccessDeps,
  actor: Actor,
  input: { email: string; password: string; displayName?: string; workspace?: string },
): Promise<UserWithMemberships> {
  const email = parseOrThrow(emailSchema, input.email, 'email');
  const password = parseOrThrow(passwordSchema, input.password, 'password');
  const displayName = parseOrThrow(displayNameSchema, input.displayName ?? '', 'display name');
  const target = { type: 'user', name: email };
  if (actor.kind !== 'operator') {
    await authz.audit(actor, {
      workspaceId: null,
      action: 'user.create',
      target,
      outcome: 'denied',
      detail: 'only the local operator makes an account with a password',
    });
    throw new HindsightError(
      'forbidden',
      `only the local operator on the server makes an account with a password (hindsight user create --owner); invite ${email} instead: hindsight user invite ${email} --workspace <name> --role <role>`,
    );
  }
  const workspace = await workspaceFor(store, actor, input.workspace ?? 'default');
  try {
    const user = await store.createUser({
      email,
      displayName,
      passwordHash: await hashPassword(password),
      instanceOwner: true,
    });
    await store.setMembership(user.id, workspace.id, 'owner');
    await runtime.catalog.identityProviders.setBreakGlass(user.id, true);
    await authz.audit(actor, {
      workspaceId: workspace.id,
      action: 'user.create',
      target,
      outcome: 'ok',
      before: null,
      after: { email, displayName, workspace: workspace.name, role: 'owner', instanceOwner: true, breakGlass: true },
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
    createOwner: (actor: Actor, input: Parameters<typeof createOwner>[2]) => createOwner(deps, actor, input),

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
