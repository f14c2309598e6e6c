/** The storages page and the "add database" form, through the domain services (the guard decides). */
import { DEFAULT_WORKSPACE_ID } from '../../../../../lib/catalog/access.ts';
import type { StorageRecord } from '../../../../../lib/catalog/storages.ts';
import { HindsightError } from '../../../../../lib/errors.ts';
import type { testStorageConnection } from '../../../../../lib/storage/connection-test.ts';
import { workspaceStorageRoot } from '../../../../../lib/storage/local/root.ts';
import { storageSecretFieldNames } from '../../../../../lib/storage/config.ts';
import { isInstanceLevel } from '../../../../../services/authz.ts';
import type { Services } from '../../../../../services/index.ts';
import { LOCATION_FIELDS } from '../../../../../services/storages/service.ts';
import type { ConnectionCheck, ConsoleSetupServices, ConsoleStorageForm, WorkspaceNames } from './setup-types.ts';
import type { ActorRef } from './types.ts';

type StoragePart = Pick<
  ConsoleSetupServices,
  'storages' | 'testStorageConfig' | 'saveStorage' | 'testStorage' | 'removeStorage' | 'storageForm' | 'updateStorage'
>;
type DatabasePart = Pick<ConsoleSetupServices, 'newDatabase' | 'testDatabase' | 'testDatabaseUrl' | 'addDatabase'>;

const storageCheck = (
  result: Awaited<ReturnType<typeof testStorageConnection>>,
): ConnectionCheck & { stage?: string } =>
  result.ok
    ? { ok: true, detail: `wrote, read back and deleted a test object`, elapsedMs: result.elapsedMs }
    : {
        ok: false,
        detail: `failed at ${result.stage}: ${result.message}`,
        stage: result.stage,
        elapsedMs: result.elapsedMs,
      };

/** A storage as both pages list it: name, type and workspace (its id where the actor may not read its name). */
const storageRow = (s: StorageRecord, workspaceNames: Map<number, string>) => ({
  name: s.name,
  type: s.type,
  workspace: workspaceNames.get(s.workspaceId) ?? String(s.workspaceId),
});

export function storageServices(services: Services, workspaceNames: WorkspaceNames): StoragePart {
  const { config } = services.ctx.runtime;
  return {
    async storages(actor) {
      const [storages, databases, names] = await Promise.all([
        services.storages.list(actor),
        services.databases.list(actor),
        workspaceNames(actor),
      ]);
      return {
        storages: storages.map((s) => ({
          ...storageRow(s, names),
          settings: s.settings,
          hasSecrets: s.hasSecrets,
          usedBy: databases.filter((d) => d.storageNames.includes(s.name)).map((d) => d.name),
          canUpdate: services.ctx.guard.can(actor, s.workspaceId, 'storage.update'),
          canDelete: services.ctx.guard.can(actor, s.workspaceId, 'storage.delete'),
        })),
        workspaces: [...names].map(([id, name]) => ({
          id,
          name,
          canCreate: services.ctx.guard.can(actor, id, 'storage.create'),
          localRoot: isInstanceLevel(actor) ? null : workspaceStorageRoot(config.localStorageRoot, name),
        })),
        temporalUiUrl: config.temporalUiUrl,
      };
    },

    // Testing a configuration reaches out to whatever it names: only those who may add one may.
    testStorageConfig: async (actor, name, raw, workspaceId = DEFAULT_WORKSPACE_ID) =>
      storageCheck(await services.storages.testConfig(actor, name || 'new-storage', raw, workspaceId)),

    async saveStorage(actor, name, raw, options) {
      await services.storages.save(actor, name, raw, {
        skipCheck: options.skipCheck,
        ...(options.workspaceId ? { workspaceId: options.workspaceId } : {}),
      });
    },

    testStorage: async (actor, name) => storageCheck(await services.storages.test(actor, name)),

    async removeStorage(actor, name) {
      const users = (await services.databases.list(actor))
        .filter((d) => d.storageNames.includes(name))
        .map((d) => d.name);
      if (users.length > 0) {
        throw new HindsightError(
          'conflict',
          `storage "${name}" is in use by ${users.map((u) => `"${u}"`).join(', ')}: point those databases at another storage first`,
        );
      }
      await services.storages.remove(actor, name);
    },

    storageForm: (actor, name) => storageForm(services, workspaceNames, actor, name),

    async updateStorage(actor, name, change) {
      await services.storages.update(actor, name, change);
    },
  };
}

/**
 * The edit form of a storage the actor may read (the service's list decides; any other name is not
 * found): its settings, the names of its stored secrets and whether it holds copies, never a secret.
 */
async function storageForm(
  services: Services,
  workspaceNames: WorkspaceNames,
  actor: ActorRef,
  name: string,
): Promise<ConsoleStorageForm> {
  const [storages, databases, names] = await Promise.all([
    services.storages.list(actor),
    services.databases.list(actor),
    workspaceNames(actor),
  ]);
  const storage = storages.find((s) => s.name === name);
  if (!storage)
    throw new HindsightError('not_found', `storage "${name}" does not exist (the storages page lists yours)`);
  const { catalog, config } = services.ctx.runtime;
  const [stored, copies] = await Promise.all([catalog.storageConfig(name), catalog.completeCopiesIn(name)]);
  return {
    ...storageRow(storage, names),
    settings: storage.settings,
    secretsSet: Object.keys(stored).filter((field) => storageSecretFieldNames.has(field)),
    copies,
    locked: copies > 0 ? [...LOCATION_FIELDS] : [],
    usedBy: databases.filter((d) => d.storageNames.includes(name)).map((d) => d.name),
    canUpdate: services.ctx.guard.can(actor, storage.workspaceId, 'storage.update'),
    temporalUiUrl: config.temporalUiUrl,
  };
}

export function newDatabaseServices(services: Services, workspaceNames: WorkspaceNames): DatabasePart {
  const { config } = services.ctx.runtime;
  return {
    async newDatabase(actor) {
      const [storages, names] = await Promise.all([services.storages.list(actor), workspaceNames(actor)]);
      return {
        storages: storages.map((s) => ({ ...storageRow(s, names), workspaceId: s.workspaceId })),
        workspaces: [...names]
          .filter(([id]) => services.ctx.guard.can(actor, id, 'database.create'))
          .map(([id, name]) => ({ id, name })),
        temporalUiUrl: config.temporalUiUrl,
      };
    },
    testDatabase: (actor, database) => services.databases.test(actor, database),
    testDatabaseUrl: (actor, url, workspaceId = DEFAULT_WORKSPACE_ID) =>
      services.databases.testUrl(actor, url, workspaceId),
    async addDatabase(actor, input) {
      const record = await services.databases.add(actor, {
        name: input.name,
        url: input.url,
        ...(input.storages.length ? { storages: input.storages } : {}),
        schedule: input.schedule,
        timezone: input.timezone,
        workspaceId: input.workspaceId,
      });
      return { name: record.name, adopted: { count: record.adopted.count, storages: record.adopted.storages } };
    },
  };
}
