/**
 * The one gate every service method passes: it finds the workspace an object belongs to, asks
 * services/authz.ts whether the actor may act there, and writes the audit entry of a change. A
 * caller names the object and the action; the guard answers "not found" for names outside the
 * actor's workspaces, `forbidden` (audited as denied) for a role that does not allow the action.
 *
 *   return guard.run(actor, { database: name }, 'backup.start', () => start(…), { after: (r) => ({ backupId: r.backupId }) });
 *
 * Reads (`history.read`) are checked but not audited; every other action is recorded with the
 * settings before and after (secrets masked) or the reason it failed.
 */
import type { AccessStore } from '../lib/catalog/access.ts';
import { createAuthz, notFound, type Action, type Actor, type Authz, type Target } from './authz.ts';

/** What an action is about: an object whose workspace the guard looks up, or a workspace itself. */
export type Scope =
  | { database: string }
  | { storage: string }
  | { backup: string }
  /** A workspace itself, or an object in it already looked up (`target` names it in refusals). */
  | { workspace: number; target?: Target };

export interface Granted {
  workspaceId: number;
  /** The database of a database or backup scope. */
  database: string | null;
  target: Target;
}

export interface AuditNote<T> {
  /** The settings before the change (null: it did not exist); omitted when not meaningful. */
  before?: unknown;
  /** What the audit log records of the result. */
  after?: (result: T) => unknown;
  /** The audit target when it is not the scope's object (a hook, a notifier). */
  target?: Target;
}

/**
 * Actions that run jobs, test or read; every other action changes the configuration the catalog
 * holds (databases, storages, notifiers, hooks, schedules, retention, PITR, users), and once done
 * is reported to the guard's `onChange`.
 */
const NOT_CONFIGURATION =
  /^(backup|restore|verification|audit|history)\.|^(retention\.run|storage\.test|notifier\.test)$/;

export class Guard {
  readonly authz: Authz;
  readonly access: AccessStore;
  /** Told after every configuration change that succeeded (the catalog then backs itself up); never fails the change. */
  private readonly onChange: ((action: Action) => Promise<void>) | undefined;

  constructor(access: AccessStore, onChange?: (action: Action) => Promise<void>) {
    this.access = access;
    this.authz = createAuthz(access);
    this.onChange = onChange;
  }

  private async changed(action: Action): Promise<void> {
    if (this.onChange && !NOT_CONFIGURATION.test(action)) await this.onChange(action).catch(() => undefined);
  }

  /** Authorizes `action` on the scope's object and says where it lives. */
  async require(actor: Actor, scope: Scope, action: Action): Promise<Granted> {
    const found = await this.locate(scope);
    await this.authz.authorize(actor, found.workspaceId, action, found.target);
    return found;
  }

  /** `require`, then the work; a change is audited with its outcome, a read is not. */
  async run<T>(
    actor: Actor,
    scope: Scope,
    action: Action,
    work: (granted: Granted) => Promise<T>,
    note: AuditNote<T> = {},
  ): Promise<T> {
    const granted = await this.require(actor, scope, action);
    if (action === 'history.read') return work(granted);
    const result = await this.authz.audited(
      actor,
      { workspaceId: granted.workspaceId, action, target: note.target ?? granted.target, before: note.before },
      () => work(granted),
      note.after,
    );
    await this.changed(action);
    return result;
  }

  /** Records a change already authorized in a workspace (an instance privilege checked after the role). */
  async audited<T>(
    actor: Actor,
    granted: Pick<Granted, 'workspaceId' | 'target'>,
    action: Action,
    work: () => Promise<T>,
    note: AuditNote<T> = {},
  ): Promise<T> {
    const result = await this.authz.audited(
      actor,
      { workspaceId: granted.workspaceId, action, target: note.target ?? granted.target, before: note.before },
      work,
      note.after,
    );
    await this.changed(action);
    return result;
  }

  /** The workspaces in which the actor may read: what list views filter by. */
  async readable(actor: Actor): Promise<Set<number>> {
    return new Set(await this.authz.workspacesAllowing(actor, 'history.read'));
  }

  can(actor: Actor, workspaceId: number, action: Action): boolean {
    return this.authz.can(actor, workspaceId, action);
  }

  private async locate(scope: Scope): Promise<Granted> {
    if ('workspace' in scope) {
      return {
        workspaceId: scope.workspace,
        database: null,
        target: scope.target ?? { type: 'workspace', name: String(scope.workspace) },
      };
    }
    if ('database' in scope) {
      const target = { type: 'database', name: scope.database };
      const workspaceId = await this.access.databaseWorkspace(scope.database);
      if (workspaceId === undefined) throw notFound(target);
      return { workspaceId, database: scope.database, target };
    }
    if ('storage' in scope) {
      const target = { type: 'storage', name: scope.storage };
      const workspaceId = await this.access.storageWorkspace(scope.storage);
      if (workspaceId === undefined) throw notFound(target);
      return { workspaceId, database: null, target };
    }
    const target = { type: 'backup', name: scope.backup };
    const found = await this.access.backupWorkspace(scope.backup);
    if (!found) throw notFound(target);
    return { workspaceId: found.workspaceId, database: found.database, target };
  }
}
