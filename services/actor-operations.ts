/**
 * The service layer as one actor may use it: every function asks services/authz.ts first, reads
 * are limited to the actor's workspaces, and every change, download and restore is written to the
 * audit log with the settings before and after (secrets masked). The console, /api/v1 and the CLI
 * call these; services/operations.ts underneath trusts its caller.
 */
import type { DatabaseRecord, StorageRecord } from '../lib/catalog/catalog.ts';
import { DEFAULT_WORKSPACE_ID } from '../lib/catalog/access.ts';
import { HindsightError } from '../lib/errors.ts';
import { storageConfigSchema, maskStorageSecrets } from '../lib/storage/index.ts';
import { actorLabel, isInstanceLevel, notFound, type Action, type Actor, type Authz, type Target } from './authz.ts';
import type { CreateBackupRoleInput } from './backup-role.ts';
import type { HookTarget, SetHookInput } from './hooks.ts';
import type { AddDatabaseInput, Operations } from './operations.ts';
import type { Runtime } from './runtime.ts';
import { storageRefusals } from './storage-privileges.ts';

/** Why setting a hook is the instance's business, in the words the refused admin reads. */
export const HOOK_SCRIPT_REFUSAL = { privilege: 'hook.script', reason: 'hook scripts run programs on the shared worker: only the instance owner may set them (ask them, or the operator with the hindsight CLI on the server)' } as const;

/** A database's settings as the audit log records them: no password. */
export function databaseSettings(d: DatabaseRecord): Record<string, unknown> {
  return {
    host: d.host, port: d.port, dbname: d.dbname, username: d.username, sslmode: d.sslmode, storages: d.storageNames,
    schedule: d.schedule, timezone: d.timezone, verifyAfterBackup: d.verifyAfterBackup, verifySchedule: d.verifySchedule,
    retentionPolicy: d.retentionPolicy, workspaceId: d.workspaceId,
  };
}

const storageSettings = (s: StorageRecord): Record<string, unknown> => ({ type: s.type, ...s.settings, workspaceId: s.workspaceId });

export function createActorOperations(deps: { runtime: Runtime; ops: Operations; authz: Authz }, actor: Actor) {
  const { runtime, ops, authz } = deps;
  const { catalog } = runtime;
  const access = catalog.access;

  const databaseWorkspace = (name: string, action: Action): Promise<number> => authz.authorizeDatabase(actor, name, action);

  async function storageWorkspace(name: string, action: Action): Promise<number> {
    const workspaceId = await access.storageWorkspace(name);
    if (workspaceId === undefined) throw notFound({ type: 'storage', name });
    await authz.authorize(actor, workspaceId, action, { type: 'storage', name });
    return workspaceId;
  }

  async function backupWorkspace(backupId: string, action: Action): Promise<{ workspaceId: number; database: string }> {
    const found = await access.backupWorkspace(backupId);
    if (!found) throw notFound({ type: 'backup', name: backupId });
    await authz.authorize(actor, found.workspaceId, action, { type: 'backup', name: backupId });
    return found;
  }

  /** A database backs up only to storages of its own workspace. */
  async function checkStoragesIn(workspaceId: number, names: string[]): Promise<void> {
    for (const name of names) {
      const storageWs = await access.storageWorkspace(name);
      if (storageWs === undefined || (storageWs !== workspaceId && !authz.can(actor, storageWs, 'history.read'))) throw notFound({ type: 'storage', name });
      if (storageWs !== workspaceId) throw new HindsightError('bad_input', `storage "${name}" belongs to another workspace: a database backs up only to storages of its own workspace`);
    }
  }

  const audited = <T>(entry: { workspaceId: number; action: Action; target: Target; before?: unknown }, work: () => Promise<T>, after?: (result: T) => unknown) =>
    authz.audited(actor, entry, work, after);

  const dbSettingsNow = async (name: string) => databaseSettings(await catalog.getDatabase(name));

  /**
   * After the role check: settings that run programs or reach paths beyond the workspace's
   * storage root need the instance's privileges (services/storage-privileges.ts says which).
   */
  async function authorizeStorageSettings(name: string, raw: unknown, workspaceId: number, action: Action, existing: boolean): Promise<void> {
    const parsed = storageConfigSchema.safeParse(raw);
    if (!parsed.success || isInstanceLevel(actor)) return;
    const before = existing ? await catalog.storageConfig(name) : undefined;
    const workspace = await access.workspaceById(workspaceId);
    const refusals = await storageRefusals(parsed.data, before, { instanceRoot: runtime.config.localStorageRoot, workspaceName: workspace?.name ?? String(workspaceId) });
    for (const refusal of refusals) await authz.authorizeInstance(actor, workspaceId, action, refusal, { type: 'storage', name });
  }

  return {
    actor,

    async addDatabase(raw: AddDatabaseInput) {
      const workspaceId = raw.workspaceId ?? DEFAULT_WORKSPACE_ID;
      const target = { type: 'database', name: String(raw.name) };
      await authz.authorize(actor, workspaceId, 'database.create', { type: 'workspace', name: String(workspaceId) });
      const storages = raw.storages === undefined ? ['local'] : typeof raw.storages === 'string' ? [raw.storages] : raw.storages;
      await checkStoragesIn(workspaceId, storages);
      return audited({ workspaceId, action: 'database.create', target, before: null }, () => ops.addDatabase({ ...raw, workspaceId }), (record) => databaseSettings(record));
    },

    async setSchedule(name: string, cron: string | null, timezone = 'UTC') {
      const workspaceId = await databaseWorkspace(name, 'database.schedule');
      const before = await dbSettingsNow(name);
      return audited({ workspaceId, action: 'database.schedule', target: { type: 'database', name }, before: { schedule: before.schedule, timezone: before.timezone } },
        () => ops.setSchedule(name, cron, timezone), async () => { const now = await dbSettingsNow(name); return { schedule: now.schedule, timezone: now.timezone }; });
    },

    async removeDatabase(name: string) {
      const workspaceId = await databaseWorkspace(name, 'database.delete');
      return audited({ workspaceId, action: 'database.delete', target: { type: 'database', name }, before: await dbSettingsNow(name) }, () => ops.removeDatabase(name), () => null);
    },

    async listDatabases() {
      const allowed = new Set(await authz.workspacesAllowing(actor, 'history.read'));
      return (await ops.listDatabases()).filter((d) => allowed.has(d.workspaceId));
    },

    async getDatabase(name: string) {
      await databaseWorkspace(name, 'history.read');
      return catalog.getDatabase(name);
    },

    async setDestinations(database: string, storages: string[]) {
      const workspaceId = await databaseWorkspace(database, 'database.update');
      await checkStoragesIn(workspaceId, storages);
      const before = await dbSettingsNow(database);
      return audited({ workspaceId, action: 'database.update', target: { type: 'database', name: database }, before: { storages: before.storages } },
        () => ops.setDestinations(database, storages), (record) => ({ storages: record.storageNames }));
    },

    async saveStorage(name: string, raw: unknown, options: { skipCheck?: boolean; workspaceId?: number } = {}) {
      const existingWs = await access.storageWorkspace(name);
      const workspaceId = existingWs ?? options.workspaceId ?? DEFAULT_WORKSPACE_ID;
      const target = { type: 'storage', name };
      if (existingWs !== undefined && !authz.can(actor, existingWs, 'history.read')) {
        // Storage names are unique across workspaces; saying so reveals only that the name is taken.
        throw new HindsightError('conflict', `storage name "${name}" is already taken (choose another name)`);
      }
      if (existingWs !== undefined && options.workspaceId !== undefined && options.workspaceId !== existingWs) {
        throw new HindsightError('conflict', `storage "${name}" belongs to another workspace (choose another name)`);
      }
      const action: Action = existingWs === undefined ? 'storage.create' : 'storage.update';
      await authz.authorize(actor, workspaceId, action, existingWs === undefined ? { type: 'workspace', name: String(workspaceId) } : target);
      await authorizeStorageSettings(name, raw, workspaceId, action, existingWs !== undefined);
      const before = existingWs === undefined ? null : storageSettings(await catalog.getStorage(name));
      const parsed = storageConfigSchema.safeParse(raw);
      return audited({ workspaceId, action, target, before }, () => ops.saveStorage(name, raw, { skipCheck: options.skipCheck, workspaceId }),
        (record) => (parsed.success ? { ...maskStorageSecrets(parsed.data), workspaceId: record.workspaceId } : storageSettings(record)));
    },

    /** Before testing a configuration not yet saved: the same checks as saving it into the workspace. */
    async authorizeStorageTest(name: string, raw: unknown, workspaceId: number) {
      await authz.authorize(actor, workspaceId, 'storage.create', { type: 'workspace', name: String(workspaceId) });
      await authorizeStorageSettings(name, raw, workspaceId, 'storage.create', false);
    },

    async testStorage(name: string) {
      const workspaceId = await storageWorkspace(name, 'storage.test');
      return audited({ workspaceId, action: 'storage.test', target: { type: 'storage', name } }, () => ops.testStorage(name),
        (result) => (result.ok ? { ok: true, elapsedMs: result.elapsedMs } : { ok: false, stage: result.stage, kind: result.kind }));
    },

    async removeStorage(name: string) {
      const workspaceId = await storageWorkspace(name, 'storage.delete');
      return audited({ workspaceId, action: 'storage.delete', target: { type: 'storage', name }, before: storageSettings(await catalog.getStorage(name)) }, () => ops.removeStorage(name), () => null);
    },

    async listStorages() {
      const allowed = new Set(await authz.workspacesAllowing(actor, 'history.read'));
      return (await ops.listStorages()).filter((s) => allowed.has(s.workspaceId));
    },

    async openDownload(backupId: string, options: Parameters<Operations['openDownload']>[1]) {
      const { workspaceId, database } = await backupWorkspace(backupId, 'backup.download');
      return audited({ workspaceId, action: 'backup.download', target: { type: 'backup', name: backupId } }, () => ops.openDownload(backupId, options),
        (d) => ({ database, storage: d.storageName, decrypted: options.decrypt, bytes: d.sizeBytes }));
    },

    async requestVerification(database: string, options: { backupId?: string | undefined; trigger?: 'manual' | 'schedule' } = {}) {
      const workspaceId = await databaseWorkspace(database, 'verification.start');
      if (options.backupId) {
        const found = await access.backupWorkspace(options.backupId);
        if (!found || !authz.can(actor, found.workspaceId, 'history.read')) throw notFound({ type: 'backup', name: options.backupId });
      }
      return audited({ workspaceId, action: 'verification.start', target: { type: 'database', name: database } }, () => ops.requestVerification(database, options),
        (r) => ({ verificationId: r.verificationId, backupId: r.backupId }));
    },

    async listVerifications(database: string) {
      await databaseWorkspace(database, 'history.read');
      return ops.listVerifications(database);
    },

    async getVerification(id: string) {
      const summary = await ops.getVerification(id);
      const workspaceId = await access.databaseWorkspace(summary.database);
      if (workspaceId === undefined || !authz.can(actor, workspaceId, 'history.read')) throw new HindsightError('not_found', `verification "${id}" does not exist`);
      return summary;
    },

    async setVerifySchedule(database: string, cron: string | null) {
      const workspaceId = await databaseWorkspace(database, 'database.schedule');
      const before = await dbSettingsNow(database);
      return audited({ workspaceId, action: 'database.schedule', target: { type: 'database', name: database }, before: { verifySchedule: before.verifySchedule } },
        () => ops.setVerifySchedule(database, cron), (record) => ({ verifySchedule: record.verifySchedule }));
    },

    async setRetentionPolicy(database: string, raw: unknown) {
      const workspaceId = await databaseWorkspace(database, 'retention.save');
      const before = await dbSettingsNow(database);
      return audited({ workspaceId, action: 'retention.save', target: { type: 'database', name: database }, before: { retentionPolicy: before.retentionPolicy } },
        () => ops.setRetentionPolicy(database, raw), (record) => ({ retentionPolicy: record.retentionPolicy }));
    },

    async retentionPlan(database: string, policy?: unknown) {
      await databaseWorkspace(database, 'history.read');
      return ops.retentionPlan(database, policy);
    },

    async startRetention(database: string, options: { dryRun?: boolean } = {}) {
      const workspaceId = await databaseWorkspace(database, options.dryRun ? 'history.read' : 'retention.run');
      if (options.dryRun) return ops.startRetention(database, options);
      return audited({ workspaceId, action: 'retention.run', target: { type: 'database', name: database } }, () => ops.startRetention(database, options), (r) => ({ workflowId: r.workflowId }));
    },

    async startReplicate(backupId: string) {
      const { workspaceId } = await backupWorkspace(backupId, 'backup.start');
      return audited({ workspaceId, action: 'backup.start', target: { type: 'backup', name: backupId }, before: null }, () => ops.startReplicate(backupId), (r) => ({ workflowId: r.workflowId, kind: 'copy' }));
    },

    async listBackups(database?: string) {
      if (database) {
        await databaseWorkspace(database, 'history.read');
        return ops.listBackups(database);
      }
      return catalog.listBackups(undefined, 100, await authz.workspacesAllowing(actor, 'history.read'));
    },

    async getBackup(backupId: string) {
      await backupWorkspace(backupId, 'history.read');
      return catalog.getBackup(backupId);
    },

    async startBackup(database: string, trigger: Parameters<Operations['startBackup']>[1] = 'manual') {
      const workspaceId = await databaseWorkspace(database, 'backup.start');
      return audited({ workspaceId, action: 'backup.start', target: { type: 'database', name: database } }, () => ops.startBackup(database, trigger),
        (r) => ({ backupId: r.backupId, workflowId: r.workflowId, trigger }));
    },

    /** The running jobs of a database with their workflows' progress: a read, like its history. */
    async runningJobs(database: string) {
      await databaseWorkspace(database, 'history.read');
      return ops.jobs.runningJobs(database);
    },

    async backupProgress(backupId: string) {
      await backupWorkspace(backupId, 'history.read');
      return ops.jobs.backupProgress(backupId);
    },

    async cancelBackup(backupId: string, reason?: string) {
      const { workspaceId } = await backupWorkspace(backupId, 'backup.cancel');
      return audited({ workspaceId, action: 'backup.cancel', target: { type: 'backup', name: backupId } }, () => ops.cancelBackup(backupId, reason), () => ({ reason: reason ?? null }));
    },

    async startRestore(options: Parameters<Operations['startRestore']>[0]) {
      const workspaceId = await databaseWorkspace(options.database, 'restore.start');
      if (options.backupId) {
        const found = await access.backupWorkspace(options.backupId);
        if (!found || !authz.can(actor, found.workspaceId, 'history.read')) throw notFound({ type: 'backup', name: options.backupId });
      }
      const to = 'url' in options.to ? { url: options.to.url } : { database: options.to.database };
      return audited({ workspaceId, action: 'restore.start', target: { type: 'database', name: options.database } }, () => ops.startRestore(options),
        (r) => ({ workflowId: r.workflowId, backupId: options.backupId ?? 'newest', to }));
    },

    /**
     * Hook scripts run on the shared worker as its user: setting one is the instance's privilege
     * (an admin of the workspace may still remove one).
     */
    hooks: {
      async setHook(raw: SetHookInput) {
        const { workspaceId, target } = await hookScope(raw.target, 'hook.edit');
        await authz.authorizeInstance(actor, workspaceId, 'hook.edit', HOOK_SCRIPT_REFUSAL, target);
        const before = await hookNow(raw.target, raw.kind);
        return audited({ workspaceId, action: 'hook.edit', target, before },
          () => ops.hooks.setHook(raw, { name: actorLabel(actor) }),
          (h) => ({ kind: h.kind, script: h.script, timeoutSeconds: h.timeoutSeconds }));
      },
      async removeHook(raw: { target: HookTarget; kind: string }) {
        const { workspaceId, target } = await hookScope(raw.target, 'hook.edit');
        const before = await hookNow(raw.target, raw.kind);
        return audited({ workspaceId, action: 'hook.edit', target, before }, () => ops.hooks.removeHook(raw, { name: actorLabel(actor) }), () => null);
      },
      async showHooks(database: string) {
        await databaseWorkspace(database, 'history.read');
        return ops.hooks.showHooks(database);
      },
      async workspaceHooks(workspaceId: number) {
        await authz.authorize(actor, workspaceId, 'history.read', { type: 'workspace', name: String(workspaceId) });
        return ops.hooks.workspaceHooks(workspaceId);
      },
      async hookRuns(database: string, options: { limit?: number; backupId?: string } = {}) {
        await databaseWorkspace(database, 'history.read');
        return ops.hooks.hookRuns(database, options);
      },
    },

    backupRole: {
      async checkRole(database: string, options: { pitr?: boolean } = {}) {
        await databaseWorkspace(database, 'history.read');
        return ops.backupRole.checkRole(database, options);
      },
      async createRole(database: string, raw: CreateBackupRoleInput = {}) {
        const workspaceId = await databaseWorkspace(database, 'backupRole.create');
        const before = await dbSettingsNow(database);
        return audited({ workspaceId, action: 'backupRole.create', target: { type: 'database', name: database }, before },
          () => ops.backupRole.createRole(database, raw, { name: actorLabel(actor) }),
          (r) => ({ role: r.role, readOnly: r.check.readOnly, username: r.role }));
      },
    },
  };

  /** The workspace a hook belongs to: its database's, or the one named. */
  async function hookScope(scope: HookTarget, action: Action): Promise<{ workspaceId: number; target: Target }> {
    if ('database' in scope) {
      return { workspaceId: await databaseWorkspace(scope.database, action), target: { type: 'database hook', name: scope.database } };
    }
    await authz.authorize(actor, scope.workspaceId, action, { type: 'workspace', name: String(scope.workspaceId) });
    return { workspaceId: scope.workspaceId, target: { type: 'workspace hook', name: String(scope.workspaceId) } };
  }

  async function hookNow(scope: HookTarget, kind: string): Promise<unknown> {
    const hooks = 'database' in scope ? (await ops.hooks.showHooks(scope.database)).hooks.filter((h) => h.scope === 'database') : await ops.hooks.workspaceHooks(scope.workspaceId);
    const hook = hooks.find((h) => h.kind === kind);
    return hook ? { kind: hook.kind, script: hook.script, timeoutSeconds: hook.timeoutSeconds } : null;
  }
}

export type ActorOperations = ReturnType<typeof createActorOperations>;
