/**
 * Restore drills: a database's drill settings (audited like its other settings, the target's
 * password sealed and never shown), its drills, and a drill now. The drill itself is the workflow
 * `restoreDrill` (workflows/restore-drill.ts), on the schedule `restore-drill/<db>`.
 */
import type { RestoreDrillRecord, RestoreDrillSettings } from '../../lib/catalog/restore-drills.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { Catalog } from '../../lib/catalog/catalog.ts';
import { parsePgUrl, targetUrl } from '../../lib/pg/connection.ts';
import { manualDrillWorkflowId, restoreDrillWorkflow } from '../../temporal/contracts/restore-drill.ts';
import { setDatabaseCron } from '../../temporal/schedules.ts';
import { startRun } from '../../temporal/start.ts';
import type { Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { changeDatabase } from '../databases/change.ts';
import { parseOrThrow } from '../input.ts';
import { defaultDrillCron, restoreDrillSettingsInput, type RestoreDrillSettingsInput } from './input.ts';

/** The saved target's URL, for a change of the cron alone. */
async function savedUrl(catalog: Catalog, database: string): Promise<string> {
  const saved = await catalog.restoreDrills.drillTarget(database);
  if (saved) return targetUrl(saved);
  throw new HindsightError(
    'bad_input',
    `database "${database}" has no restore drill target yet: give one (--restore-drill-target <postgres-url>) with the cron`,
  );
}

/** What the audit log records of the settings: the target without its password. */
const audited = (settings: RestoreDrillSettings | null) => ({ restoreDrill: settings });

export class RestoreDrillService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** The database's drill settings (no password), or null when it has none. */
  settings(actor: Actor, database: string): Promise<RestoreDrillSettings | null> {
    return this.ctx.guard.run(actor, { database }, 'history.read', () =>
      this.ctx.runtime.catalog.restoreDrills.drillSettings(database),
    );
  }

  /** Sets the drill's target and cron (the monthly default when none is given or saved) and its schedule. */
  async set(actor: Actor, database: string, raw: RestoreDrillSettingsInput): Promise<RestoreDrillSettings> {
    const input = parseOrThrow(restoreDrillSettingsInput, raw, 'restore drill');
    const { catalog } = this.ctx.runtime;
    const save = async () => {
      const db = await catalog.getDatabase(database);
      const url = input.target ?? (await savedUrl(catalog, database));
      parsePgUrl(url);
      const cron = input.cron ?? db.restoreDrillCron ?? defaultDrillCron(database);
      await setDatabaseCron(this.ctx, 'drill', database, cron, db.timezone);
      await catalog.restoreDrills.setDrillSettings(database, { url, cron });
      return (await catalog.restoreDrills.drillSettings(database))!;
    };
    return changeDatabase(this.ctx, actor, database, 'database.update', save, {
      before: () => catalog.restoreDrills.drillSettings(database).then(audited),
      after: audited,
    });
  }

  /** Switches the drill off: its schedule and settings go; its earlier drills stay on record. */
  async remove(actor: Actor, database: string): Promise<null> {
    const { catalog } = this.ctx.runtime;
    const save = async () => {
      const db = await catalog.getDatabase(database);
      await setDatabaseCron(this.ctx, 'drill', database, null, db.timezone);
      await catalog.restoreDrills.setDrillSettings(database, null);
      return null;
    };
    return changeDatabase(this.ctx, actor, database, 'database.update', save, {
      before: () => catalog.restoreDrills.drillSettings(database).then(audited),
      after: () => audited(null),
    });
  }

  /** A database's drills, newest first. */
  list(actor: Actor, database: string, limit = 50): Promise<RestoreDrillRecord[]> {
    return this.ctx.guard.run(actor, { database }, 'history.read', () =>
      this.ctx.runtime.catalog.restoreDrills.list(database, limit),
    );
  }

  /** The newest drill of the database, or null. */
  async last(actor: Actor, database: string): Promise<RestoreDrillRecord | null> {
    return (await this.list(actor, database, 1))[0] ?? null;
  }

  /** Starts a drill now (the settings must have a target); `finished()` waits for its outcome. */
  async run(actor: Actor, database: string) {
    const { guard, runtime } = this.ctx;
    const granted = await guard.require(actor, { database }, 'verification.start');
    const start = async () => {
      if (!(await runtime.catalog.restoreDrills.drillSettings(database))) {
        throw new HindsightError(
          'bad_input',
          `database "${database}" has no restore drill target: set one with hindsight db update ${database} --restore-drill-target <postgres-url>`,
        );
      }
      const workflowId = manualDrillWorkflowId(database, new Date());
      const handle = await startRun(this.ctx, restoreDrillWorkflow, {
        workflowId,
        database,
        input: { database, trigger: 'manual' },
      });
      return { workflowId, finished: () => handle.result() };
    };
    return guard.audited(actor, granted, 'verification.start', start, {
      after: (r) => ({ restoreDrill: r.workflowId }),
    });
  }

  /** The drill a run recorded. */
  async get(actor: Actor, database: string, drillId: string): Promise<RestoreDrillRecord> {
    const drill = await this.ctx.guard.run(actor, { database }, 'history.read', () =>
      this.ctx.runtime.catalog.restoreDrills.get(drillId),
    );
    if (drill.database !== database) throw new HindsightError('not_found', `restore drill "${drillId}" does not exist`);
    return drill;
  }
}
