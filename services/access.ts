/**
 * Accounts, workspaces and memberships, login sessions with rate limiting, and reading the audit
 * log. Each change is authorized through services/authz.ts and audited like any other.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import {
  DEFAULT_WORKSPACE_ID,
  ROLES,
  type AccessStore,
  type AuditEntry,
  type Role,
  type UserRecord,
} from '../lib/catalog/access.ts';
import { decoyHash, hashPassword, passwordPolicy, verifyPassword } from '../lib/access/password.ts';
import { HindsightError } from '../lib/errors.ts';
import { NAME_RULE, nameSchema } from '../lib/names.ts';
import { isInstanceLevel, notFound, roleOf, type Actor, type Authz } from './authz.ts';
import type { Runtime } from './runtime.ts';

export interface LoginPolicy {
  /** Failed logins of one account before it is locked. */
  accountLimit: number;
  /** Failed logins from one client address before it is locked. */
  ipLimit: number;
  /** The first lockout; each further one of the same key doubles it (up to 64×). */
  lockMs: number;
  /** Each failure is answered after baseDelayMs × 2^(failures − 1), at most maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Sessions end after this long without a request. */
  sessionTtlMs: number;
}

export const defaultLoginPolicy: LoginPolicy = {
  accountLimit: 5,
  ipLimit: 20,
  lockMs: 15 * 60_000,
  baseDelayMs: 100,
  maxDelayMs: 3_200,
  sessionTtlMs: 12 * 3600_000,
};

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email('email must be an address such as ops@example.com'));
export const passwordSchema = z
  .string()
  .min(passwordPolicy.minLength, `password must be at least ${passwordPolicy.minLength} characters`)
  .max(passwordPolicy.maxLength, `password must be at most ${passwordPolicy.maxLength} characters`);
export const workspaceNameSchema = nameSchema(`workspace name must be ${NAME_RULE}`);
export const roleSchema = z.enum(ROLES, { message: `role must be one of ${ROLES.join(', ')}` });
export const displayNameSchema = z.string().trim().max(200).default('');

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, field: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new HindsightError('bad_input', `${field}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

export interface UserWithMemberships extends UserRecord {
  memberships: Array<{ workspace: string; workspaceId: number; role: Role }>;
}

export interface AuditQuery {
  workspace?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  since?: Date | undefined;
  limit?: number | undefined;
}

/** What every part of the access service works with. */
interface AccessDeps {
  runtime: Runtime;
  authz: Authz;
  policy: LoginPolicy;
  store: AccessStore;
}

/** The actor of a user id, or undefined when the account is gone or disabled. */
async function actorForUser(store: AccessStore, userId: number, source: string): Promise<Actor | undefined> {
  const user = await store.getUserById(userId);
  if (!user || user.disabled) return undefined;
  const memberships = new Map((await store.membershipsOfUser(userId)).map((m) => [m.workspaceId, m.role] as const));
  return { kind: 'user', userId, email: user.email, memberships, instanceOwner: user.instanceOwner, source };
}

/** The workspace of this name, if the actor may see it; otherwise "does not exist". */
async function workspaceFor(store: AccessStore, actor: Actor, name: string): Promise<{ id: number; name: string }> {
  const workspace = await store.findWorkspace(name);
  if (!workspace || roleOf(actor, workspace.id) === undefined) throw notFound({ type: 'workspace', name });
  return workspace;
}

async function userWithMemberships(store: AccessStore, user: UserRecord): Promise<UserWithMemberships> {
  const memberships = (await store.membershipsOfUser(user.id)).map((m) => ({
    workspace: m.workspace,
    workspaceId: m.workspaceId,
    role: m.role,
  }));
  return { ...user, memberships };
}

/** Granting or taking away the owner role is the owners' business. */
async function authorizeRoleChange(
  authz: Authz,
  actor: Actor,
  workspace: { id: number; name: string },
  roles: Array<Role | undefined>,
) {
  await authz.authorize(actor, workspace.id, 'membership.manage', { type: 'workspace', name: workspace.name });
  if (roles.includes('owner'))
    await authz.authorize(actor, workspace.id, 'workspace.manage', { type: 'workspace', name: workspace.name });
}

async function keepAnOwner(store: AccessStore, workspaceId: number, workspaceName: string, losing: Role | undefined) {
  if (losing === 'owner' && (await store.countOwners(workspaceId)) <= 1) {
    throw new HindsightError(
      'conflict',
      `workspace "${workspaceName}" would have no owner left (make someone else owner first)`,
    );
  }
}

/**
 * Checks a password and opens a session. Failures are counted per account and per client
 * address in the catalog (so a restart forgets nothing), answered after a growing delay, and
 * lock the key for `lockMs` at the limit.
 */
async function login(
  { store, authz, policy }: AccessDeps,
  input: { email: string; password: string; ip: string; userAgent: string | null },
): Promise<{ token: string; expiresAt: Date; actor: Actor }> {
  const email = String(input.email ?? '')
    .trim()
    .toLowerCase();
  const password = String(input.password ?? '');
  const keys = [`email:${email}`, `ip:${input.ip}`];
  const user = email ? await store.findUserByEmail(email) : undefined;
  // Only a known address is written down: people type passwords into the email field.
  const auditAttempt = (outcome: 'denied' | 'failed', detail: string) =>
    store.appendAudit({
      actorUserId: user?.id ?? null,
      actor: user?.email ?? 'unknown user',
      workspaceId: null,
      action: 'auth.login',
      source: input.ip,
      outcome,
      detail,
    });
  const locked = await store.lockedUntil(keys);
  if (locked) {
    await auditAttempt('denied', `locked until ${locked.toISOString()}`);
    throw new HindsightError(
      'rate_limited',
      `too many failed logins: try again after ${locked.toISOString().slice(11, 16)} UTC`,
    );
  }
  const ok =
    (await verifyPassword(password, user?.passwordHash ?? (await decoyHash()))) && user !== undefined && !user.disabled;
  if (!ok) {
    const failures = await store.recordLoginFailure(keys[0]!, policy.accountLimit, policy.lockMs);
    await store.recordLoginFailure(keys[1]!, policy.ipLimit, policy.lockMs);
    await sleep(Math.min(policy.baseDelayMs * 2 ** Math.max(0, failures - 1), policy.maxDelayMs));
    await auditAttempt('failed', `wrong email or password (${failures} failure(s) in a row)`);
    throw new HindsightError('access_denied', 'email or password is wrong');
  }
  await store.clearLoginFailures(keys[0]!);
  const session = await store.createSession(user.id, {
    ttlMs: policy.sessionTtlMs,
    ip: input.ip,
    userAgent: input.userAgent,
  });
  const actor = (await actorForUser(store, user.id, input.ip))!;
  await authz.audit(actor, { workspaceId: null, action: 'auth.login', outcome: 'ok' });
  return { token: session.token, expiresAt: session.expiresAt, actor };
}

/** Accounts and sessions: the first owner, logging in and out, the actor behind a cookie or an email. */
function sessionOperations(deps: AccessDeps) {
  const { store, authz, policy } = deps;
  return {
    policy,
    actorForUser: (userId: number, source: string) => actorForUser(store, userId, source),

    /** For the CLI's HINDSIGHT_AS / --as: the user's roles, or an error naming the account. */
    async actorForEmail(email: string, source: string): Promise<Actor> {
      const user = await store.findUserByEmail(email);
      if (!user) throw notFound({ type: 'user', name: email });
      if (user.disabled) throw new HindsightError('forbidden', `user "${email}" is disabled`);
      return (await actorForUser(store, user.id, source))!;
    },

    async needsSetup(): Promise<boolean> {
      return (await store.countUsers()) === 0;
    },

    /** The first account, owner of the default workspace and of the installation; refused once any account exists. */
    async createFirstOwner(
      input: { email: string; password: string; displayName?: string },
      source: string,
    ): Promise<UserRecord> {
      const email = parseOrThrow(emailSchema, input.email, 'email');
      const password = parseOrThrow(passwordSchema, input.password, 'password');
      const displayName = parseOrThrow(displayNameSchema, input.displayName ?? '', 'display name');
      const user = await store.createFirstOwner({ email, displayName, passwordHash: await hashPassword(password) });
      const actor = (await actorForUser(store, user.id, source))!;
      await authz.audit(actor, {
        workspaceId: DEFAULT_WORKSPACE_ID,
        action: 'auth.setup',
        target: { type: 'user', name: email },
        outcome: 'ok',
        after: { email, role: 'owner', workspace: 'default', instanceOwner: true },
      });
      return user;
    },

    login: (input: { email: string; password: string; ip: string; userAgent: string | null }) => login(deps, input),

    async logout(token: string, actor?: Actor): Promise<void> {
      await store.deleteSession(token);
      if (actor) await authz.audit(actor, { workspaceId: null, action: 'auth.logout', outcome: 'ok' });
    },

    /** The actor behind a session cookie, or undefined when it is unknown, expired or its user disabled. */
    async sessionActor(token: string, ip: string): Promise<Actor | undefined> {
      if (!token || token.length > 100) return undefined;
      const session = await store.touchSession(token, policy.sessionTtlMs);
      return session ? actorForUser(store, session.userId, ip) : undefined;
    },
  };
}

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
function userOperations(deps: AccessDeps) {
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

/** Workspaces and who belongs to them with which role. */
function workspaceOperations({ store, authz }: AccessDeps) {
  return {
    workspaceFor: (actor: Actor, name: string) => workspaceFor(store, actor, name),

    async setMember(actor: Actor, email: string, workspaceName: string, rawRole: string): Promise<void> {
      const role = parseOrThrow(roleSchema, rawRole, 'role');
      const workspace = await workspaceFor(store, actor, workspaceName);
      await authz.authorize(actor, workspace.id, 'membership.manage', { type: 'workspace', name: workspace.name });
      const user = await store.findUserByEmail(String(email));
      if (!user) throw notFound({ type: 'user', name: email });
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

/** Reading and trimming the audit log. */
function auditOperations({ store, authz, runtime }: AccessDeps) {
  return {
    /** Audit entries of the workspaces where the actor may read the log; login entries for instance admins. */
    async listAudit(actor: Actor, query: AuditQuery = {}): Promise<AuditEntry[]> {
      let workspaceId: number | undefined;
      if (query.workspace) {
        const workspace = await workspaceFor(store, actor, query.workspace);
        await authz.authorize(actor, workspace.id, 'audit.read', { type: 'workspace', name: workspace.name });
        workspaceId = workspace.id;
      }
      const allowed = await authz.workspacesAllowing(actor, 'audit.read');
      if (actor.kind === 'user' && allowed.length === 0) {
        await authz.authorize(actor, [...actor.memberships.keys()][0] ?? DEFAULT_WORKSPACE_ID, 'audit.read');
      }
      return store.listAudit({
        workspaceIds: actor.kind === 'user' ? allowed : undefined,
        includeGlobal: actor.kind !== 'user' || allowed.includes(DEFAULT_WORKSPACE_ID),
        workspaceId,
        actor: query.actor,
        action: query.action,
        since: query.since,
        limit: query.limit,
      });
    },

    async purgeAudit(retentionDays = runtime.config.auditRetentionDays): Promise<number> {
      await store.purgeExpiredSessions();
      return store.purgeAudit(retentionDays);
    },
  };
}

export function createAccessService(runtime: Runtime, authz: Authz, policy: LoginPolicy = defaultLoginPolicy) {
  const deps: AccessDeps = { runtime, authz, policy, store: runtime.catalog.access };
  return {
    ...sessionOperations(deps),
    ...userOperations(deps),
    ...workspaceOperations(deps),
    ...auditOperations(deps),
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
