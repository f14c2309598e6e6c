/**
 * Notifiers as one actor may use them: admins of a workspace create, change, attach and test its
 * notifiers; members read them. Every change is audited with the notifier's settings, which never
 * hold its secrets (those are sealed apart in the catalog).
 */
import { DEFAULT_WORKSPACE_ID } from '../../lib/catalog/access.ts';
import type { NotifierRecord } from '../../lib/catalog/notifiers.ts';
import { configChangeSchema, mergeConfigChange } from '../../lib/config-change.ts';
import { HindsightError } from '../../lib/errors.ts';
import { notFound, type Action, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import type { Granted } from '../guard.ts';
import { parseOrThrow } from '../input.ts';
import { createNotifierOperations, type NotifierOperations } from './work.ts';

const notifierSettings = (n: NotifierRecord) => ({
  type: n.type,
  settings: n.settings,
  summary: n.summary,
  events: n.events,
  databases: n.databases,
  workspaceId: n.workspaceId,
});

export class NotifierService {
  private readonly ctx: ServiceContext;
  private readonly work: NotifierOperations;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
    this.work = createNotifierOperations(ctx.runtime, ctx.temporal);
  }

  async save(actor: Actor, name: string, raw: unknown, events?: string[], workspaceId = DEFAULT_WORKSPACE_ID) {
    const existing = await this.work.getNotifier(name).catch(() => undefined);
    if (existing) {
      const { before, granted } = await this.notifierFor(actor, name, 'notifier.update');
      return this.ctx.guard.audited(
        actor,
        granted,
        'notifier.update',
        () => this.work.saveNotifier(name, raw, events),
        { before: notifierSettings(before), after: notifierSettings },
      );
    }
    const granted = await this.ctx.guard.require(
      actor,
      { workspace: workspaceId, target: { type: 'notifier', name } },
      'notifier.create',
    );
    return this.ctx.guard.audited(
      actor,
      granted,
      'notifier.create',
      () => this.work.saveNotifier(name, raw, events, workspaceId),
      { before: null, after: notifierSettings },
    );
  }

  /**
   * Merges a partial change over the stored configuration (secrets not named are kept; the type
   * cannot change) and, when given, replaces the events; validated in full before it is saved.
   */
  async update(actor: Actor, name: string, change: { config?: unknown; events?: string[] | undefined }) {
    const { before, granted } = await this.notifierFor(actor, name, 'notifier.update');
    const fields = parseOrThrow(configChangeSchema, change.config ?? {}, `notifier "${name}" change`);
    const stored = await this.ctx.runtime.catalog.notifiers.config(name);
    const merged = mergeConfigChange('notifier', name, stored, fields);
    return this.ctx.guard.audited(
      actor,
      granted,
      'notifier.update',
      () => this.work.saveNotifier(name, merged, change.events),
      { before: notifierSettings(before), after: notifierSettings },
    );
  }

  async list(actor: Actor) {
    const allowed = await this.ctx.guard.readable(actor);
    return (await this.work.listNotifiers()).filter((n) => allowed.has(n.workspaceId));
  }

  async get(actor: Actor, name: string) {
    return (await this.notifierFor(actor, name, 'history.read')).before;
  }

  /** The notifier's stored configuration, secrets included: for the console's form to keep a secret left blank. */
  async storedConfig(actor: Actor, name: string) {
    await this.notifierFor(actor, name, 'history.read');
    return this.ctx.runtime.catalog.notifiers.config(name);
  }

  async remove(actor: Actor, name: string) {
    const { before, granted } = await this.notifierFor(actor, name, 'notifier.delete');
    return this.ctx.guard.audited(actor, granted, 'notifier.delete', () => this.work.removeNotifier(name), {
      before: notifierSettings(before),
      after: () => null,
    });
  }

  async deliveries(actor: Actor, options: { notifier?: string; database?: string; limit?: number } = {}) {
    if (options.notifier) await this.notifierFor(actor, options.notifier, 'history.read');
    if (options.database) await this.ctx.guard.require(actor, { database: options.database }, 'history.read');
    // Only the actor's workspaces' deliveries, filtered before the limit so that it counts theirs.
    const workspaces = [...(await this.ctx.guard.readable(actor))];
    const allowed = new Set((await this.list(actor)).map((n) => n.name));
    return (await this.work.deliveries({ ...options, workspaces })).filter((d) => allowed.has(d.notifierName));
  }

  async setEvents(actor: Actor, name: string, events: string[]) {
    const { before, granted } = await this.notifierFor(actor, name, 'notifier.update');
    return this.ctx.guard.audited(actor, granted, 'notifier.update', () => this.work.setEvents(name, events), {
      before: notifierSettings(before),
      after: notifierSettings,
    });
  }

  /** A database's events go only to notifiers of its own workspace. */
  async attach(actor: Actor, database: string, names: string[]) {
    const granted = await this.ctx.guard.require(actor, { database }, 'notifier.update');
    for (const name of names) {
      const { before: n } = await this.notifierFor(actor, name, 'history.read');
      if (n.workspaceId !== granted.workspaceId) {
        throw new HindsightError(
          'bad_input',
          `notifier "${name}" belongs to another workspace: a database notifies only through notifiers of its own workspace`,
        );
      }
    }
    const before = (await this.work.listNotifiers()).filter((n) => n.databases.includes(database)).map((n) => n.name);
    return this.ctx.guard.audited(actor, granted, 'notifier.update', () => this.work.attach(database, names), {
      before: { notifiers: before },
      after: (attached) => ({ notifiers: attached }),
    });
  }

  async test(actor: Actor, name: string) {
    const { granted } = await this.notifierFor(actor, name, 'notifier.test');
    return this.ctx.guard.audited(actor, granted, 'notifier.test', () => this.work.testNotifier(name), {
      after: (r) => ({ ok: r.ok }),
    });
  }

  async setBackupOverdue(actor: Actor, database: string, hours: number | null) {
    const before = {
      backupOverdueHours: await this.ctx.runtime.catalog.notifiers.overdueHours(database).catch(() => null),
    };
    return this.ctx.guard.run(
      actor,
      { database },
      'database.update',
      () => this.work.setBackupOverdue(database, hours),
      { before, after: (r) => ({ backupOverdueHours: r.backupOverdueHours }) },
    );
  }

  /** The notifier, once the actor may do `action` in its workspace; "not found" outside their workspaces. */
  private async notifierFor(
    actor: Actor,
    name: string,
    action: Action,
  ): Promise<{ before: NotifierRecord; granted: Granted }> {
    const { guard } = this.ctx;
    const target = { type: 'notifier', name };
    const found = await this.work.getNotifier(name).catch(() => undefined);
    if (!found || !guard.can(actor, found.workspaceId, 'history.read')) throw notFound(target);
    const granted = await guard.require(actor, { workspace: found.workspaceId, target }, action);
    return { before: found, granted };
  }
}
