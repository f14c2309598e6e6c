/**
 * The settings page of one database: its connection (never the password, only whether one is
 * stored), destinations, verification and health settings, and removing it. Every change goes
 * through DatabaseService (services/databases/service.ts), whose guard decides who may make it.
 */
import { HindsightError } from '../../../../../lib/errors.ts';
import { NAME_PATTERN, NAME_RULE } from '../../../../../lib/names.ts';
import { targetUrl } from '../../../../../lib/pg/connection.ts';
import type { Action } from '../../../../../services/authz.ts';
import { updateDatabaseInput, type UpdateDatabaseInput } from '../../../../../services/databases/input.ts';
import type { RemoveOutcome } from '../../../../../services/databases/remove.ts';
import type { Services } from '../../../../../services/index.ts';
import type { RestoreDrillSettings } from '../../../../../lib/catalog/restore-drills.ts';
import type { RestoreDrillSettingsInput } from '../../../../../services/restore-drills/input.ts';
import type { ActorRef } from './types.ts';

export type { UpdateDatabaseInput } from '../../../../../services/databases/input.ts';
export type { RemoveOutcome } from '../../../../../services/databases/remove.ts';

/** A number setting's allowed range, as the service's input schema defines it. */
export interface NumberRange {
  min: number;
  max: number;
}

export interface ConsoleDatabaseSettingsView {
  database: {
    name: string;
    /** The connection as a URL without its password. */
    url: string;
    hasPassword: boolean;
    workspace: string;
    storages: string[];
    verifyAfterBackup: boolean;
    healthIntervalSeconds: number;
    healthFailureThreshold: number;
    /** pg_dump jobs per backup: 1 is the single stream, more a parallel directory dump. */
    parallelJobs: number;
    /** Public-key mode (its own or its workspace's): the X25519 recipient new objects are encrypted for. */
    encryptionRecipient: string | null;
    /** KMS mode (its own or its workspace's): the named KMS key new objects' data keys are wrapped by. */
    encryptionKms: string | null;
    /** Where that comes from: its own setting, its workspace's default, or the installation's secret key. */
    encryptionSource: 'database' | 'workspace' | 'installation';
    /** Backups recorded for it (retention's deletions aside): what a rename keeps attached. */
    backupCount: number;
    /**
     * PITR is on: its WAL archive and base backups belong to the whole server, so the service
     * refuses to delete its backups with it, or to rename it, until PITR is turned off.
     */
    pitr: boolean;
    /** The restore drill's target (no password) and cron, or null when it has none. */
    restoreDrill: RestoreDrillSettings | null;
  };
  /** Every storage of the database's workspace: the destinations it may choose from. */
  storages: Array<{ name: string; type: string }>;
  ranges: { healthIntervalSeconds: NumberRange; healthFailureThreshold: NumberRange; parallelJobs: NumberRange };
  /** What the viewer's role lets them change here: a viewer sees the settings read-only. */
  allowed: { update: boolean; remove: boolean };
  temporalUiUrl: string;
}

/** What happens to a removed database's backups. */
export type RemovedBackups = 'keep' | 'delete';

export interface ConsoleDatabaseSettingsServices {
  view(actor: ActorRef, database: string): Promise<ConsoleDatabaseSettingsView>;
  /** DatabaseService.update: a new URL or password is connection-tested first unless `skipCheck`. */
  update(actor: ActorRef, database: string, changes: UpdateDatabaseInput): Promise<void>;
  /**
   * DatabaseService.update with a new name: its schedules and health monitor move to it, its backups
   * stay attached. Refused for a name taken, while PITR is on or while a job runs. Returns the new name.
   */
  rename(actor: ActorRef, database: string, newName: string): Promise<string>;
  /** DatabaseService.remove: what became of its backups (how many, kept or deleted, in which storages). */
  remove(actor: ActorRef, database: string, options: { backups: RemovedBackups }): Promise<RemoveOutcome>;
  /** RestoreDrillService.set: a target (its password sealed), a cron, or both; null switches drills off. */
  setDrill(actor: ActorRef, database: string, settings: RestoreDrillSettingsInput | null): Promise<void>;
}

const { shape } = updateDatabaseInput;
const rangeOf = (schema: { minValue: number | null; maxValue: number | null }): NumberRange => ({
  min: schema.minValue ?? 0,
  max: schema.maxValue ?? Number.MAX_SAFE_INTEGER,
});
/** Taken from the schema the service checks with, so the page cannot announce other limits. */
const RANGES = {
  healthIntervalSeconds: rangeOf(shape.healthIntervalSeconds.unwrap()),
  healthFailureThreshold: rangeOf(shape.healthFailureThreshold.unwrap()),
  parallelJobs: rangeOf(shape.parallelJobs.unwrap()),
};

async function settingsView(services: Services, actor: ActorRef, name: string): Promise<ConsoleDatabaseSettingsView> {
  const db = await services.databases.get(actor, name);
  const { catalog } = services.ctx.runtime;
  const [storages, workspace, pitr, backups, restoreDrill] = await Promise.all([
    services.storages.list(actor),
    catalog.access.workspaceById(db.workspaceId),
    catalog.wal.config(name),
    catalog.storedBackupsOf(name),
    services.restoreDrills.settings(actor, name),
  ]);
  const may = (action: Action) => services.ctx.guard.can(actor, db.workspaceId, action);
  const url = targetUrl({
    host: db.host,
    port: db.port,
    database: db.dbname,
    user: db.username,
    sslmode: db.sslmode ?? undefined,
  });
  return {
    database: {
      name: db.name,
      url,
      hasPassword: db.hasPassword,
      workspace: workspace?.name ?? String(db.workspaceId),
      storages: db.storageNames,
      verifyAfterBackup: db.verifyAfterBackup,
      healthIntervalSeconds: db.healthIntervalSeconds,
      healthFailureThreshold: db.healthFailureThreshold,
      parallelJobs: db.parallelJobs,
      encryptionRecipient: db.encryption.recipient,
      encryptionKms: db.encryption.kms,
      encryptionSource: db.encryption.source,
      backupCount: backups.filter((b) => b.status !== 'deleted').length,
      pitr: pitr.enabled,
      restoreDrill,
    },
    storages: storages.filter((s) => s.workspaceId === db.workspaceId).map((s) => ({ name: s.name, type: s.type })),
    ranges: RANGES,
    allowed: { update: may('database.update'), remove: may('database.delete') },
    temporalUiUrl: services.ctx.runtime.config.temporalUiUrl,
  };
}

export function createConsoleDatabaseSettings(services: Services): ConsoleDatabaseSettingsServices {
  return {
    view: (actor, name) => settingsView(services, actor, name),
    async update(actor, name, changes) {
      await services.databases.update(actor, name, changes);
    },
    async rename(actor, name, raw) {
      const newName = raw.trim();
      // The rule every name follows, said here in the page's words; the service checks it again.
      if (!NAME_PATTERN.test(newName))
        throw new HindsightError('bad_input', `"${newName}" cannot name a database: use ${NAME_RULE}`);
      if (newName === name) throw new HindsightError('bad_input', `the database is already called "${name}"`);
      return (await services.databases.update(actor, name, { name: newName })).name;
    },
    remove: (actor, name, options) => services.databases.remove(actor, name, options),
    async setDrill(actor, name, settings) {
      if (settings) await services.restoreDrills.set(actor, name, settings);
      else await services.restoreDrills.remove(actor, name);
    },
  };
}
