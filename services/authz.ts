/**
 * The one place that decides who may do what. Every service function that the console, the API
 * or the CLI calls asks `authorize(actor, workspaceId, action)` first; a refusal is a `forbidden`
 * error (HTTP 403) and a `denied` entry in the audit log. An actor who is not a member of the
 * workspace at all is told the object does not exist, so names in other workspaces stay hidden.
 *
 * A service function of its own (notifiers, hooks, …) is routed through it in two lines:
 *
 *   await authz.authorize(actor, workspaceId, 'notifier.create', { type: 'notifier', name });
 *   return authz.audited(actor, { workspaceId, action: 'notifier.create', target: { type: 'notifier', name }, before: null },
 *     () => createNotifier(…), (saved) => settingsWithoutSecrets(saved));
 */
import { DEFAULT_WORKSPACE_ID, ROLES, type AccessStore, type Role } from '../lib/catalog/access.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import { maskForAudit } from './audit-mask.ts';

export { ROLES, DEFAULT_WORKSPACE_ID, type Role };

/** Every read and every change a caller can ask for. */
export const ACTIONS = [
  'database.create',
  'database.update',
  'database.delete',
  'database.schedule',
  'storage.create',
  'storage.update',
  'storage.delete',
  'storage.test',
  'backup.start',
  'backup.cancel',
  'backup.download',
  'backup.delete',
  'restore.start',
  'verification.start',
  'retention.save',
  'retention.run',
  'notifier.create',
  'notifier.update',
  'notifier.delete',
  'notifier.test',
  'hook.edit',
  'backupRole.create',
  'user.manage',
  'membership.manage',
  'workspace.manage',
  'workspace.secondFactor',
  'audit.read',
  'history.read',
] as const;
export type Action = (typeof ACTIONS)[number];

// Reading history is not reading the data: a backup holds every row of the database, so
// downloading one is an editor's right, not a viewer's.
const viewer: readonly Action[] = ['history.read'];
const editor: readonly Action[] = [
  ...viewer,
  'backup.download',
  'database.create',
  'database.update',
  'database.schedule',
  'backupRole.create',
  'backup.start',
  'backup.cancel',
  'restore.start',
  'verification.start',
  'retention.save',
  'retention.run',
];
const admin: readonly Action[] = [
  ...editor,
  'database.delete',
  'backup.delete',
  'storage.create',
  'storage.update',
  'storage.delete',
  'storage.test',
  'notifier.create',
  'notifier.update',
  'notifier.delete',
  'notifier.test',
  'hook.edit',
  'user.manage',
  'membership.manage',
  'audit.read',
];
const owner: readonly Action[] = [...admin, 'workspace.manage', 'workspace.secondFactor'];

/**
 * The role → actions matrix. Each role holds everything of the role below it: a viewer reads
 * history and downloads; an editor adds and changes databases and runs backups and restores; an
 * admin deletes databases and backups, manages storages, notifiers, hooks, members and reads the audit log; an owner manages the
 * workspace itself and its owners (granting or taking the owner role is `workspace.manage`).
 */
export const ROLE_ACTIONS: Readonly<Record<Role, ReadonlySet<Action>>> = {
  viewer: new Set(viewer),
  editor: new Set(editor),
  admin: new Set(admin),
  owner: new Set(owner),
};

export function roleAllows(role: Role, action: Action): boolean {
  return ROLE_ACTIONS[role].has(action);
}

/** The least role that allows an action. */
export function minimumRole(action: Action): Role {
  return [...ROLES].reverse().find((r) => roleAllows(r, action))!;
}

/**
 * Who is asking. A console or API user carries their memberships and whether they own the
 * installation; the CLI runs on the server with the secret key and acts as the local operator
 * (full rights) unless told to act as a user.
 */
export type Actor =
  | {
      kind: 'user';
      userId: number;
      email: string;
      memberships: ReadonlyMap<number, Role>;
      instanceOwner: boolean;
      source: string;
    }
  | { kind: 'operator'; name: string; source: 'cli' }
  | { kind: 'system'; source: 'system' };

export const operatorActor = (osUser: string): Actor => ({ kind: 'operator', name: `cli:${osUser}`, source: 'cli' });
export const systemActor: Actor = { kind: 'system', source: 'system' };

export function actorLabel(actor: Actor): string {
  if (actor.kind === 'user') return actor.email;
  if (actor.kind === 'operator') return actor.name;
  return 'system';
}

/**
 * Privileges of the installation, not of a workspace: each runs a program or reaches files on the
 * shared worker, where every workspace's jobs run, so no workspace role grants them (a workspace
 * is a tenant). Only the instance owner, the CLI's local operator and the system hold them.
 */
export const INSTANCE_PRIVILEGES = {
  'hook.script': 'set a hook script (a program the worker runs)',
  'storage.rcloneBinary': 'choose the rclone binary the worker runs',
  'storage.rcloneConfig': 'give an rclone config (it can define backends that run programs)',
  'storage.rcloneFlag': 'pass rclone flags outside the allow-list',
  'storage.rcloneRemote': "use rclone backends or parameters that reach the worker's programs or files",
  'storage.localPath': "put a local storage outside the workspace's storage root",
  'storage.workerCredentials': "let a storage sign in with the worker's own cloud credentials",
  'restore.privilegedRoles': 'restore roles with SUPERUSER, REPLICATION or BYPASSRLS onto a server',
} as const;
export type InstancePrivilege = keyof typeof INSTANCE_PRIVILEGES;

/** A change that needs an instance privilege, and why in words the refused user reads. */
export interface InstanceRefusal {
  privilege: InstancePrivilege;
  reason: string;
}

/** Whether the actor holds the instance's privileges. */
export function isInstanceLevel(actor: Actor): boolean {
  return actor.kind !== 'user' || actor.instanceOwner;
}

/** The actor's role in a workspace; the operator and the system hold every right everywhere. */
export function roleOf(actor: Actor, workspaceId: number): Role | undefined {
  if (actor.kind !== 'user') return 'owner';
  return actor.memberships.get(workspaceId);
}

export function isMember(actor: Actor, workspaceId: number): boolean {
  return roleOf(actor, workspaceId) !== undefined;
}

/** What an action is about, for the error message and the audit entry. */
export interface Target {
  type: string;
  name: string;
}

const notFoundTexts: Record<string, (name: string) => string> = {
  database: (n) => `database "${n}" is not registered (hindsight db list shows the registered ones)`,
  storage: (n) => `storage "${n}" does not exist (hindsight storage list shows the configured ones)`,
  backup: (n) => `backup "${n}" does not exist (hindsight backups <db> lists them)`,
  workspace: (n) => `workspace "${n}" does not exist (hindsight workspace list shows yours)`,
  user: (n) => `user "${n}" does not exist (hindsight user list shows them)`,
  notifier: (n) => `notifier "${n}" does not exist (hindsight notifier list shows them)`,
};

/** The same answer as for a name that exists nowhere: membership of other workspaces stays private. */
export function notFound(target: Target): HindsightError {
  return new HindsightError(
    'not_found',
    (notFoundTexts[target.type] ?? ((n: string) => `${target.type} "${n}" does not exist`))(target.name),
  );
}

export interface Authz {
  /**
   * Throws `not_found` when the actor is not a member of the workspace, `forbidden` (and writes a
   * `denied` audit entry) when their role there does not allow the action.
   */
  authorize(actor: Actor, workspaceId: number, action: Action, target?: Target): Promise<void>;
  /** `authorize` on a registered database's workspace, which it returns; "not found" for a name unknown to the actor. */
  authorizeDatabase(actor: Actor, database: string, action: Action): Promise<number>;
  /** The workspaces in which the actor may perform an action (every one for the operator). */
  workspacesAllowing(actor: Actor, action: Action): Promise<number[]>;
  can(actor: Actor, workspaceId: number, action: Action): boolean;
  /**
   * After `authorize`: lets the instance owner, the operator and the system through; anyone else
   * gets `forbidden` with the refusal's reason and a `denied` audit entry under `action`.
   */
  authorizeInstance(
    actor: Actor,
    workspaceId: number,
    action: Action,
    refusal: InstanceRefusal,
    target?: Target,
  ): Promise<void>;
  /** Writes an audit entry for this actor. */
  audit(actor: Actor, entry: AuditInput): Promise<void>;
  /**
   * Runs a change and records it: `ok` with the settings before and after (secrets masked), or
   * `failed` with the reason. Call it after `authorize`, from any service function.
   */
  audited<T>(
    actor: Actor,
    entry: { workspaceId: number; action: Action; target: Target; before?: unknown },
    work: () => Promise<T>,
    after?: (result: T) => unknown,
  ): Promise<T>;
}

export interface AuditInput {
  workspaceId: number | null;
  action:
    | Action
    | 'auth.login'
    | 'auth.logout'
    | 'auth.setup'
    | 'user.create'
    | 'user.disable'
    | 'user.enable'
    | 'membership.set'
    | 'membership.remove'
    | 'workspace.create'
    | (string & {});
  target?: Target | undefined;
  outcome: 'ok' | 'denied' | 'failed';
  before?: unknown;
  after?: unknown;
  detail?: string | null | undefined;
}

/** `Authz.authorize`: "not found" outside the actor's workspaces, "forbidden" (audited) for a role too low. */
async function authorize(
  access: AccessStore,
  authz: Authz,
  ...[actor, workspaceId, action, target]: Parameters<Authz['authorize']>
): Promise<void> {
  const role = roleOf(actor, workspaceId);
  if (role === undefined) {
    // Audited against no workspace: the other workspace's admins learn nothing from their log
    // either, and the instance's owners still see the probe.
    await authz.audit(actor, {
      workspaceId: null,
      action,
      target,
      outcome: 'denied',
      detail: 'not a member of the workspace',
    });
    throw target ? notFound(target) : new HindsightError('not_found', 'no such workspace');
  }
  if (roleAllows(role, action)) return;
  await authz.audit(actor, {
    workspaceId,
    action,
    target,
    outcome: 'denied',
    detail: `role ${role} does not allow ${action}`,
  });
  const workspace = await access.workspaceById(workspaceId);
  throw new HindsightError(
    'forbidden',
    `${action}${target ? ` on ${target.type} "${target.name}"` : ''} needs the ${minimumRole(action)} role in workspace "${workspace?.name ?? workspaceId}"; you are ${role} (ask an owner or admin of the workspace)`,
  );
}

async function authorizeDatabase(
  access: AccessStore,
  authz: Authz,
  ...[actor, database, action]: Parameters<Authz['authorizeDatabase']>
): Promise<number> {
  const workspaceId = await access.databaseWorkspace(database);
  if (workspaceId === undefined) throw notFound({ type: 'database', name: database });
  await authz.authorize(actor, workspaceId, action, { type: 'database', name: database });
  return workspaceId;
}

async function workspacesAllowing(access: AccessStore, actor: Actor, action: Action): Promise<number[]> {
  if (actor.kind !== 'user') return (await access.listWorkspaces()).map((w) => w.id);
  return [...actor.memberships].filter(([, role]) => roleAllows(role, action)).map(([id]) => id);
}

function can(actor: Actor, workspaceId: number, action: Action): boolean {
  const role = roleOf(actor, workspaceId);
  return role !== undefined && roleAllows(role, action);
}

async function authorizeInstance(
  authz: Authz,
  ...[actor, workspaceId, action, refusal, target]: Parameters<Authz['authorizeInstance']>
): Promise<void> {
  if (isInstanceLevel(actor)) return;
  await authz.audit(actor, {
    workspaceId,
    action,
    target,
    outcome: 'denied',
    detail: `instance privilege ${refusal.privilege}: ${refusal.reason}`,
  });
  throw new HindsightError('forbidden', refusal.reason);
}

async function audited<T>(
  authz: Authz,
  actor: Actor,
  entry: { workspaceId: number; action: Action; target: Target; before?: unknown },
  work: () => Promise<T>,
  after?: (result: T) => unknown,
): Promise<T> {
  let result;
  try {
    result = await work();
  } catch (error) {
    await authz.audit(actor, {
      ...entry,
      before: maskForAudit(entry.before),
      outcome: 'failed',
      detail: errorMessage(error).slice(0, 1000),
    });
    throw error;
  }
  const afterValue = after ? await after(result) : undefined;
  await authz.audit(actor, {
    ...entry,
    before: maskForAudit(entry.before),
    after: maskForAudit(afterValue),
    outcome: 'ok',
  });
  return result;
}

async function audit(access: AccessStore, actor: Actor, entry: AuditInput): Promise<void> {
  await access.appendAudit({
    actorUserId: actor.kind === 'user' ? actor.userId : null,
    actor: actorLabel(actor),
    workspaceId: entry.workspaceId,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetName: entry.target?.name ?? null,
    source: actor.source,
    outcome: entry.outcome,
    before: entry.before,
    after: entry.after,
    detail: entry.detail ?? null,
  });
}

/** The checks read the actor's roles; the catalog is asked only for names, workspaces and the audit log. */
export function createAuthz(access: AccessStore): Authz {
  const authz: Authz = {
    authorize: (...args) => authorize(access, authz, ...args),
    authorizeDatabase: (...args) => authorizeDatabase(access, authz, ...args),
    workspacesAllowing: (actor, action) => workspacesAllowing(access, actor, action),
    can,
    authorizeInstance: (...args) => authorizeInstance(authz, ...args),
    audited: (actor, entry, work, after) => audited(authz, actor, entry, work, after),
    audit: (actor, entry) => audit(access, actor, entry),
  };
  return authz;
}

export { DEFAULT_WORKSPACE_ID as defaultWorkspaceId };
