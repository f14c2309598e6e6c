/**
 * Notifiers as one actor may use them: admins of a workspace create, change, attach and test its
 * notifiers; members read them. Every change is audited with the notifier's settings, which never
 * hold its secrets (those are sealed apart in the catalog).
 */
import type { NotifierRecord } from '../lib/catalog/notifiers.ts';
import { DEFAULT_WORKSPACE_ID } from '../lib/catalog/access.ts';
import { HindsightError } from '../lib/errors.ts';
import { notFound, type Action, type Actor, type Authz } from './authz.ts';
import type { NotifierOperations } from './notifiers.ts';
import type { Runtime } from './runtime.ts';

const notifierSettings = (n: NotifierRecord) => ({ type: n.type, settings: n.settings, summary: n.summary, events: n.events, databases: n.databases, workspaceId: n.workspaceId });

export function createActorNotifiers(deps: { runtime: Runtime; notifiers: NotifierOperations; authz: Authz }, actor: Actor) {
  const { runtime, notifiers, authz } = deps;

  /** The notifier, once the actor may do `action` in its workspace; "not found" outside their workspaces. */
  async function notifierFor(name: string, action: Action): Promise<NotifierRecord> {
    const found = await notifiers.getNotifier(name).catch(() => undefined);
    if (!found || !authz.can(actor, found.workspaceId, 'history.read')) throw notFound({ type: 'notifier', name });
    await authz.authorize(actor, found.workspaceId, action, { type: 'notifier', name });
    return found;
  }

  const databaseWorkspace = (name: string, action: Action): Promise<number> => authz.authorizeDatabase(actor, name, action);

  const readable = async () => new Set(await authz.workspacesAllowing(actor, 'history.read'));

  return {
    async saveNotifier(name: string, raw: unknown, events?: string[], workspaceId = DEFAULT_WORKSPACE_ID) {
      const existing = await notifiers.getNotifier(name).catch(() => undefined);
      if (existing) {
        const before = await notifierFor(name, 'notifier.update');
        return authz.audited(actor, { workspaceId: before.workspaceId, action: 'notifier.update', target: { type: 'notifier', name }, before: notifierSettings(before) },
          () => notifiers.saveNotifier(name, raw, events), notifierSettings);
      }
      await authz.authorize(actor, workspaceId, 'notifier.create', { type: 'notifier', name });
      return authz.audited(actor, { workspaceId, action: 'notifier.create', target: { type: 'notifier', name }, before: null },
        () => notifiers.saveNotifier(name, raw, events, workspaceId), notifierSettings);
    },

    async listNotifiers() {
      const allowed = await readable();
      return (await notifiers.listNotifiers()).filter((n) => allowed.has(n.workspaceId));
    },

    async getNotifier(name: string) {
      return notifierFor(name, 'history.read');
    },

    async removeNotifier(name: string) {
      const before = await notifierFor(name, 'notifier.delete');
      return authz.audited(actor, { workspaceId: before.workspaceId, action: 'notifier.delete', target: { type: 'notifier', name }, before: notifierSettings(before) },
        () => notifiers.removeNotifier(name), () => null);
    },

    async deliveries(options: { notifier?: string; database?: string; limit?: number } = {}) {
      if (options.notifier) await notifierFor(options.notifier, 'history.read');
      if (options.database) await databaseWorkspace(options.database, 'history.read');
      const allowed = new Set((await this.listNotifiers()).map((n) => n.name));
      return (await notifiers.deliveries(options)).filter((d) => allowed.has(d.notifierName));
    },

    async setEvents(name: string, events: string[]) {
      const before = await notifierFor(name, 'notifier.update');
      return authz.audited(actor, { workspaceId: before.workspaceId, action: 'notifier.update', target: { type: 'notifier', name }, before: notifierSettings(before) },
        () => notifiers.setEvents(name, events), notifierSettings);
    },

    /** A database's events go only to notifiers of its own workspace. */
    async attach(database: string, names: string[]) {
      const workspaceId = await databaseWorkspace(database, 'notifier.update');
      for (const name of names) {
        const n = await notifierFor(name, 'history.read');
        if (n.workspaceId !== workspaceId) throw new HindsightError('bad_input', `notifier "${name}" belongs to another workspace: a database notifies only through notifiers of its own workspace`);
      }
      const before = await notifiers.listNotifiers().then((all) => all.filter((n) => n.databases.includes(database)).map((n) => n.name));
      return authz.audited(actor, { workspaceId, action: 'notifier.update', target: { type: 'database', name: database }, before: { notifiers: before } },
        () => notifiers.attach(database, names), (attached) => ({ notifiers: attached }));
    },

    async testNotifier(name: string) {
      const n = await notifierFor(name, 'notifier.test');
      return authz.audited(actor, { workspaceId: n.workspaceId, action: 'notifier.test', target: { type: 'notifier', name } },
        () => notifiers.testNotifier(name), (r) => ({ ok: r.ok }));
    },

    async setBackupOverdue(database: string, hours: number | null) {
      const workspaceId = await databaseWorkspace(database, 'database.update');
      const before = { backupOverdueHours: await runtime.catalog.notifiers.overdueHours(database) };
      return authz.audited(actor, { workspaceId, action: 'database.update', target: { type: 'database', name: database }, before },
        () => notifiers.setBackupOverdue(database, hours), (r) => ({ backupOverdueHours: r.backupOverdueHours }));
    },
  };
}

export type ActorNotifiers = ReturnType<typeof createActorNotifiers>;
