/**
 * Hook scripts and the read-only backup role of a database, as one actor may use them. Hook
 * scripts run on the shared worker as its user: setting one is the instance's privilege (an
 * admin of the workspace may still remove one).
 */
import { actorLabel, type Action, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { changeDatabase } from '../databases/change.ts';
import { databaseSettings } from '../databases/input.ts';
import type { Granted } from '../guard.ts';
import { createBackupRoleService, type BackupRoleService, type CreateBackupRoleInput } from './backup-role.ts';
import { createHookService, type HookService as HookWork, type HookTarget, type SetHookInput } from './work.ts';

/** Why setting a hook is the instance's business, in the words the refused admin reads. */
export const HOOK_SCRIPT_REFUSAL = {
  privilege: 'hook.script',
  reason:
    'hook scripts run programs on the shared worker: only the instance owner may set them (ask them, or the operator with the hindsight CLI on the server)',
} as const;

/** What the audit log records of a hook. */
const hookView = (h: { kind: string; script: string; timeoutSeconds: number }) => ({
  kind: h.kind,
  script: h.script,
  timeoutSeconds: h.timeoutSeconds,
});

export class HookService {
  private readonly ctx: ServiceContext;
  private readonly hooks: HookWork;
  private readonly roles: BackupRoleService;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
    this.hooks = createHookService(ctx.runtime.catalog);
    this.roles = createBackupRoleService(ctx.runtime.catalog);
  }

  async setHook(actor: Actor, raw: SetHookInput) {
    const granted = await this.scope(actor, raw.target, 'hook.edit');
    await this.ctx.guard.authz.authorizeInstance(
      actor,
      granted.workspaceId,
      'hook.edit',
      HOOK_SCRIPT_REFUSAL,
      granted.target,
    );
    return this.editHook(actor, granted, raw, () => this.hooks.setHook(raw, { name: actorLabel(actor) }), hookView);
  }

  async removeHook(actor: Actor, raw: { target: HookTarget; kind: string }) {
    const granted = await this.scope(actor, raw.target, 'hook.edit');
    return this.editHook(
      actor,
      granted,
      raw,
      () => this.hooks.removeHook(raw, { name: actorLabel(actor) }),
      () => null,
    );
  }

  showHooks(actor: Actor, database: string) {
    return this.ctx.guard.run(actor, { database }, 'history.read', () => this.hooks.showHooks(database));
  }

  workspaceHooks(actor: Actor, workspaceId: number) {
    return this.ctx.guard.run(actor, { workspace: workspaceId }, 'history.read', () =>
      this.hooks.workspaceHooks(workspaceId),
    );
  }

  hookRuns(actor: Actor, database: string, options: { limit?: number; backupId?: string } = {}) {
    return this.ctx.guard.run(actor, { database }, 'history.read', () => this.hooks.hookRuns(database, options));
  }

  checkRole(actor: Actor, database: string, options: { pitr?: boolean } = {}) {
    return this.ctx.guard.run(actor, { database }, 'history.read', () => this.roles.checkRole(database, options));
  }

  async createRole(actor: Actor, database: string, raw: CreateBackupRoleInput = {}) {
    const create = () => this.roles.createRole(database, raw, { name: actorLabel(actor) });
    return changeDatabase(this.ctx, actor, database, 'backupRole.create', create, {
      before: databaseSettings,
      after: (r) => ({ role: r.role, readOnly: r.check.readOnly, username: r.role }),
    });
  }

  /** The workspace a hook belongs to: its database's, or the one named. */
  private async scope(actor: Actor, scope: HookTarget, action: Action): Promise<Granted> {
    if ('database' in scope) {
      const granted = await this.ctx.guard.require(actor, { database: scope.database }, action);
      return { ...granted, target: { type: 'database hook', name: scope.database } };
    }
    const granted = await this.ctx.guard.require(actor, { workspace: scope.workspaceId }, action);
    return { ...granted, target: { type: 'workspace hook', name: String(scope.workspaceId) } };
  }

  /** A change of one hook, audited with the hook as it was before and what `after` takes of the result. */
  private async editHook<T>(
    actor: Actor,
    granted: Granted,
    hook: { target: HookTarget; kind: string },
    work: () => Promise<T>,
    after: (result: T) => unknown,
  ): Promise<T> {
    const before = await this.hookNow(hook.target, hook.kind);
    return this.ctx.guard.audited(actor, granted, 'hook.edit', work, { before, after });
  }

  private async hookNow(scope: HookTarget, kind: string): Promise<unknown> {
    const hooks =
      'database' in scope
        ? (await this.hooks.showHooks(scope.database)).hooks.filter((h) => h.scope === 'database')
        : await this.hooks.workspaceHooks(scope.workspaceId);
    const hook = hooks.find((h) => h.kind === kind);
    return hook ? hookView(hook) : null;
  }
}
