/**
 * Registering databases, their schedules and destinations. Every method takes the actor and goes
 * through the guard (services/guard.ts); the health sweep and the schedules are Temporal's.
 */
import { DEFAULT_WORKSPACE_ID } from '../../lib/catalog/access.ts';
import type { DatabaseRecord } from '../../lib/catalog/catalog.ts';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import { parsePgUrl } from '../../lib/pg/connection.ts';
import { healthWorkflowId } from '../../temporal/contracts/health.ts';
import { deliveryWorkflowId } from '../../temporal/contracts/notifications.ts';
import { deleteDatabaseSchedules, setDatabaseCron, upsertWatchdogSchedule } from '../../temporal/schedules.ts';
import { upsertCatalogBackupSchedule } from '../../temporal/catalog-backup.ts';
import { upsertCatalogMaintenanceSchedule } from '../../temporal/catalog-maintenance.ts';
import { notFound, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { cronSchema, parseOrThrow, timezoneSchema } from '../input.ts';
import { changeDatabase } from './change.ts';
import { adoptStoredBackups } from './adopt.ts';
import { checkConnection, checkTarget, type ConnectionCheck } from './check.ts';
import { endPerDatabaseMonitors, ensureHealthSweep, sweepHealthNow } from './health.ts';
import {
  addDatabaseInput,
  databaseSettings,
  kmsKeyOfSetting,
  encryptionColumnsOf,
  removeDatabaseOptions,
  updateDatabaseInput,
  type AddDatabaseInput,
  type DatabaseChanges,
  type NewDatabaseValues,
  type UpdateDatabaseInput,
} from './input.ts';
import { refuseRemoval, settleBackups, stopPitrForRemoval, type RemoveOutcome } from './remove.ts';
import { renameDatabase } from './rename.ts';
import { assertConnects, auditedSettings, changedTarget, serverIdentity } from './update.ts';

const scheduleOf = (d: DatabaseRecord) => ({ schedule: d.schedule, timezone: d.timezone });

export class DatabaseService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /**
   * Registers a database and takes back the backups of it found in its storages (adopt.ts): the
   * result carries how many, and from where.
   */
  async add(actor: Actor, raw: AddDatabaseInput) {
    const { guard } = this.ctx;
    const workspaceId = raw.workspaceId ?? DEFAULT_WORKSPACE_ID;
    const storages =
      raw.storages === undefined ? ['local'] : typeof raw.storages === 'string' ? [raw.storages] : raw.storages;
    const granted = await guard.require(actor, { workspace: workspaceId }, 'database.create');
    await this.checkStoragesIn(actor, workspaceId, storages);
    const target = { type: 'database', name: String(raw.name) };
    return guard.audited(
      actor,
      { ...granted, target },
      'database.create',
      () => this.register(parseOrThrow(addDatabaseInput, { ...raw, workspaceId })),
      { before: null, after: (record) => ({ ...databaseSettings(record), adoptedBackups: record.adopted.count }) },
    );
  }

  private async register(input: NewDatabaseValues) {
    const { catalog } = this.ctx.runtime;
    const pgTarget = parsePgUrl(input.url);
    const systemIdentifier = input.skipCheck ? undefined : await serverIdentity(input.name, pgTarget);
    const kmsKey = kmsKeyOfSetting(input.encryption);
    if (kmsKey) await catalog.kmsKeys.get(kmsKey);
    const record = await catalog.addDatabase({
      name: input.name,
      target: pgTarget,
      storageNames: input.storages,
      schedule: input.schedule,
      timezone: input.timezone,
      verifyAfterBackup: input.verifyAfterBackup,
      parallelJobs: input.parallelJobs,
      ...encryptionColumnsOf(input.encryption),
      workspaceId: input.workspaceId,
    });
    if (input.schedule) {
      try {
        await setDatabaseCron(this.ctx, 'backups', input.name, input.schedule, input.timezone);
      } catch (error) {
        await catalog.removeDatabase(input.name);
        throw new HindsightError(
          'bad_input',
          `database "${input.name}": schedule "${input.schedule}" was refused by Temporal: ${errorMessage(error)}`,
        );
      }
    }
    const adopted = await adoptStoredBackups(catalog, {
      name: input.name,
      storages: input.storages,
      source: { database: pgTarget.database, ...(systemIdentifier === undefined ? {} : { systemIdentifier }) },
      skipCheck: input.skipCheck,
    });
    await sweepHealthNow(this.ctx);
    return { ...record, adopted };
  }

  async setSchedule(actor: Actor, name: string, cron: string | null, timezone = 'UTC') {
    const save = async () => {
      const schedule = cron === null ? null : parseOrThrow(cronSchema, cron, 'schedule');
      // The timezone matters only to a schedule; without one it is stored as given.
      const zone = schedule ? parseOrThrow(timezoneSchema, timezone, 'timezone') : timezone;
      await setDatabaseCron(this.ctx, 'backups', name, schedule, zone);
      await this.ctx.runtime.catalog.updateSchedule(name, schedule, timezone);
    };
    return changeDatabase(this.ctx, actor, name, 'database.schedule', save, {
      before: scheduleOf,
      after: async () => scheduleOf(await this.ctx.runtime.catalog.getDatabase(name)),
    });
  }

  /**
   * Removes a database from the catalog. Its backups stay in storage (`keep`, the default), where
   * adding the same database again takes them back, or are deleted from every storage holding a
   * copy (`delete`, refused while PITR is on). With PITR on, streaming stops and the replication
   * slot is dropped first. Audited with the choice.
   */
  async remove(actor: Actor, name: string, options: { backups?: 'keep' | 'delete' } = {}): Promise<RemoveOutcome> {
    const {
      runtime: { catalog },
      temporal,
    } = this.ctx;
    const { backups } = parseOrThrow(removeDatabaseOptions, options);
    const removeAll = async () => {
      await refuseRemoval(catalog, name, backups);
      await deleteDatabaseSchedules(temporal, name, ['backups', 'retention', 'verification', 'drill']);
      const outcome = await settleBackups(catalog, name, backups);
      const pitr = await stopPitrForRemoval(this.ctx, name);
      if (pitr) outcome.message = `${outcome.message}; ${pitr}`;
      for (const workflowId of [healthWorkflowId(name), deliveryWorkflowId(name)])
        await temporal.workflow
          .getHandle(workflowId)
          .terminate('database removed')
          .catch(() => undefined);
      await catalog.removeDatabase(name);
      return outcome;
    };
    return changeDatabase(this.ctx, actor, name, 'database.delete', removeAll, {
      before: databaseSettings,
      after: (outcome) => ({ backups: outcome.backups, backupCount: outcome.backupCount, storages: outcome.storages }),
    });
  }

  /** Every database the actor may read, or with `page` the next `limit` of them after the name `after`. */
  async list(actor: Actor, page?: { limit: number; after?: string | undefined }) {
    const allowed = await this.ctx.guard.readable(actor);
    const { catalog } = this.ctx.runtime;
    if (page) return catalog.listDatabasePage({ ...page, workspaceIds: [...allowed] });
    return (await catalog.listDatabases()).filter((d) => allowed.has(d.workspaceId));
  }

  async get(actor: Actor, name: string) {
    return this.ctx.guard.run(actor, { database: name }, 'history.read', () =>
      this.ctx.runtime.catalog.getDatabase(name),
    );
  }

  async setDestinations(actor: Actor, database: string, storages: string[]) {
    const {
      guard,
      runtime: { catalog },
    } = this.ctx;
    const granted = await guard.require(actor, { database }, 'database.update');
    await this.checkStoragesIn(actor, granted.workspaceId, storages);
    const before = await this.settingsNow(database);
    return guard.audited(actor, granted, 'database.update', () => catalog.setDestinations(database, storages), {
      before: { storages: before.storages },
      after: (record) => ({ storages: record.storageNames }),
    });
  }

  /**
   * Changes any of a database's settings at once: a new URL or password is tested before anything
   * is saved (unless skipCheck). Its backups are recorded by its id, so every one of them still
   * restores, after a rename too (rename.ts).
   */
  async update(actor: Actor, name: string, raw: UpdateDatabaseInput) {
    const changes = parseOrThrow(updateDatabaseInput, raw);
    return changeDatabase(this.ctx, actor, name, 'database.update', () => this.applyChanges(actor, name, changes), {
      before: auditedSettings,
      after: auditedSettings,
    });
  }

  /** Connects as adding the database would (server version, size) without saving anything: the same right. */
  async testUrl(actor: Actor, url: string, workspaceId = DEFAULT_WORKSPACE_ID): Promise<ConnectionCheck> {
    await this.ctx.guard.require(actor, { workspace: workspaceId }, 'database.create');
    return checkConnection(url);
  }

  /** Connects with the stored credentials, as a backup would; only reachability and the version come back. */
  async test(actor: Actor, name: string): Promise<ConnectionCheck> {
    await this.ctx.guard.require(actor, { database: name }, 'history.read');
    return checkTarget(await this.ctx.runtime.catalog.databaseTarget(name));
  }

  /**
   * The health sweep's schedule (ending, once, the per-database monitors of earlier versions), the
   * watchdog and catalog backup schedules.
   */
  async ensureMonitors(): Promise<void> {
    await endPerDatabaseMonitors(this.ctx);
    await ensureHealthSweep(this.ctx);
    // The overdue-backup watchdog, which also sweeps notifications that no wake-up delivered.
    await upsertWatchdogSchedule(this.ctx.temporal, this.ctx.runtime.config.taskQueue);
    // The catalog's own backup (docs/disaster-recovery.md), on HINDSIGHT_CATALOG_BACKUP_CRON.
    await upsertCatalogBackupSchedule(this.ctx.temporal, this.ctx.runtime.config);
    // Old rows pruned daily, on HINDSIGHT_CATALOG_MAINTENANCE_CRON (docs/operations.md).
    await upsertCatalogMaintenanceSchedule(this.ctx.temporal, this.ctx.runtime.config);
  }

  /** Every check first (storages, connection), then the writes: a refused change saves nothing. */
  private async applyChanges(actor: Actor, name: string, changes: DatabaseChanges) {
    const { catalog } = this.ctx.runtime;
    const current = await catalog.getDatabase(name);
    if (changes.storages) await this.checkStoragesIn(actor, current.workspaceId, changes.storages);
    const kmsKey = changes.encryption ? kmsKeyOfSetting(changes.encryption) : null;
    if (kmsKey) await catalog.kmsKeys.get(kmsKey);
    const target = await changedTarget(catalog, name, changes);
    if (target && !changes.skipCheck) await assertConnects(name, target);
    if (changes.schedule !== undefined || changes.timezone !== undefined) {
      const schedule = changes.schedule === undefined ? current.schedule : changes.schedule;
      const timezone = changes.timezone ?? current.timezone;
      await setDatabaseCron(this.ctx, 'backups', name, schedule, timezone);
      await catalog.updateSchedule(name, schedule, timezone);
      // The restore drill's cron is read in the database's zone too.
      if (current.restoreDrillCron && timezone !== current.timezone)
        await setDatabaseCron(this.ctx, 'drill', name, current.restoreDrillCron, timezone);
    }
    if (target) await catalog.setDatabaseConnection(name, target);
    if (changes.storages) await catalog.setDestinations(name, changes.storages);
    const { verifyAfterBackup, healthIntervalSeconds, healthFailureThreshold, parallelJobs, encryption } = changes;
    const record = await catalog.updateDatabaseSettings(name, {
      verifyAfterBackup,
      parallelJobs,
      ...(encryption ? encryptionColumnsOf(encryption) : {}),
      healthIntervalSeconds,
      healthFailureThreshold,
    });
    if (changes.name === undefined || changes.name === name) return record;
    // The health state is the database's row (database_health), so it follows the rename.
    return renameDatabase(this.ctx, name, changes.name);
  }

  /** A database backs up only to storages of its own workspace. */
  private async checkStoragesIn(actor: Actor, workspaceId: number, names: string[]): Promise<void> {
    const { guard } = this.ctx;
    for (const name of names) {
      const storageWs = await guard.access.storageWorkspace(name);
      if (storageWs === undefined || (storageWs !== workspaceId && !guard.can(actor, storageWs, 'history.read')))
        throw notFound({ type: 'storage', name });
      if (storageWs !== workspaceId) {
        throw new HindsightError(
          'bad_input',
          `storage "${name}" belongs to another workspace: a database backs up only to storages of its own workspace`,
        );
      }
    }
  }

  private async settingsNow(name: string) {
    return databaseSettings(await this.ctx.runtime.catalog.getDatabase(name));
  }
}
