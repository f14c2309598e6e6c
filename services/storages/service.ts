/**
 * Storages: saved after a connection test, tested, removed, listed. What runs programs or reaches
 * paths on the shared worker is the instance's privilege (./privileges.ts says which settings).
 */
import { DEFAULT_WORKSPACE_ID } from '../../lib/catalog/access.ts';
import type { StorageRecord } from '../../lib/catalog/catalog.ts';
import { configChangeSchema, mergeConfigChange } from '../../lib/config-change.ts';
import { HindsightError } from '../../lib/errors.ts';
import { nameSchema, NAME_RULE } from '../../lib/names.ts';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import {
  createStorageDriver,
  maskStorageSecrets,
  storageConfigSchema,
  type StorageConfig,
} from '../../lib/storage/index.ts';
import { isInstanceLevel, type Action, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { parseOrThrow } from '../input.ts';
import { storageRefusals } from './privileges.ts';

export const storageNameSchema = nameSchema(`storage name must be ${NAME_RULE}`);

const storageSettings = (s: StorageRecord): Record<string, unknown> => ({
  type: s.type,
  ...s.settings,
  workspaceId: s.workspaceId,
});

/** Writes, reads back and deletes a small object through a driver made for the test. */
export async function testDriver(name: string, config: StorageConfig) {
  const driver = createStorageDriver(name, config);
  try {
    return await testStorageConnection(driver);
  } finally {
    await driver.close?.().catch(() => undefined);
  }
}

type SaveOptions = {
  skipCheck?: boolean | undefined;
  workspaceId?: number | undefined;
  /** How a refused connection test is told: a change keeps the stored settings and says so. */
  refusal?: (name: string, failure: string) => string;
};

/** Where a storage keeps its objects: changing one of these moves every key the catalog records. */
export const LOCATION_FIELDS: readonly string[] = ['path', 'bucket', 'prefix', 'container', 'remote'];

const refusedSave = (name: string, failure: string) => `storage "${name}" was not saved: ${failure}`;
const refusedChange = (name: string, failure: string) =>
  `storage "${name}" was not changed (its stored settings are kept): ${failure}; correct the change and run hindsight storage update ${name} again`;

export class StorageService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** Saves a storage after a connection test (write, read back, delete) unless told not to. */
  async save(actor: Actor, name: string, raw: unknown, options: SaveOptions = {}) {
    const {
      guard,
      runtime: { catalog },
    } = this.ctx;
    const existingWs = await guard.access.storageWorkspace(name);
    const workspaceId = existingWs ?? options.workspaceId ?? DEFAULT_WORKSPACE_ID;
    if (existingWs !== undefined && !guard.can(actor, existingWs, 'history.read')) {
      // Storage names are unique across workspaces; saying so reveals only that the name is taken.
      throw new HindsightError('conflict', `storage name "${name}" is already taken (choose another name)`);
    }
    if (existingWs !== undefined && options.workspaceId !== undefined && options.workspaceId !== existingWs) {
      throw new HindsightError('conflict', `storage "${name}" belongs to another workspace (choose another name)`);
    }
    const action: Action = existingWs === undefined ? 'storage.create' : 'storage.update';
    await guard.require(actor, existingWs === undefined ? { workspace: workspaceId } : { storage: name }, action);
    await this.authorizeSettings(actor, name, raw, workspaceId, action, existingWs !== undefined);
    const before = existingWs === undefined ? null : storageSettings(await catalog.getStorage(name));
    const parsed = storageConfigSchema.safeParse(raw);
    return guard.audited(
      actor,
      { workspaceId, target: { type: 'storage', name } },
      action,
      async () => {
        const parsedName = parseOrThrow(storageNameSchema, name);
        const config = parseOrThrow(storageConfigSchema, raw);
        if (!options.skipCheck) {
          const result = await testDriver(parsedName, config);
          if (!result.ok) {
            const failure = `the connection test failed at ${result.stage}: ${result.message}`;
            throw new HindsightError(result.kind, (options.refusal ?? refusedSave)(parsedName, failure));
          }
        }
        return catalog.upsertStorage(parsedName, config, workspaceId);
      },
      {
        before,
        after: (record) =>
          parsed.success
            ? { ...maskStorageSecrets(parsed.data), workspaceId: record.workspaceId }
            : storageSettings(record),
      },
    );
  }

  /**
   * Merges a partial change over the stored settings (secrets not named are kept; the type cannot
   * change), then saves it as `save` does: validated, connection-tested, audited with masked secrets.
   */
  async update(actor: Actor, name: string, change: unknown) {
    await this.ctx.guard.require(actor, { storage: name }, 'storage.update');
    const fields = parseOrThrow(configChangeSchema, change, `storage "${name}" change`);
    const stored = await this.ctx.runtime.catalog.storageConfig(name);
    const merged = mergeConfigChange('storage', name, stored, fields);
    await this.refuseMovingBackups(name, stored, merged);
    return this.save(actor, name, merged, { refusal: refusedChange });
  }

  /**
   * The catalog finds a backup's objects by storage name and key: pointing a storage that holds backups
   * at another place would leave every earlier backup unreachable by id, so that is refused.
   */
  private async refuseMovingBackups(name: string, stored: Record<string, unknown>, merged: Record<string, unknown>) {
    // A value of the wrong type is left for the schema to refuse, with its own message.
    const moved = LOCATION_FIELDS.filter(
      (field) => (stored[field] ?? '') !== (merged[field] ?? '') && typeof (merged[field] ?? '') === 'string',
    );
    if (moved.length === 0) return;
    const copies = await this.ctx.runtime.catalog.completeCopiesIn(name);
    if (copies === 0) return;
    throw new HindsightError(
      'conflict',
      `storage "${name}" holds ${copies} backup copies, and changing its ${moved.join(', ')} would leave them unreachable: move the objects there first, or add a storage at the new place (hindsight storage add), point the databases at it (hindsight db storages) and keep this one for the older backups`,
    );
  }

  /** Before testing a configuration not yet saved: the same checks as saving it into the workspace. */
  async testConfig(actor: Actor, name: string, raw: unknown, workspaceId: number) {
    await this.ctx.guard.require(actor, { workspace: workspaceId }, 'storage.create');
    await this.authorizeSettings(actor, name, raw, workspaceId, 'storage.create', false);
    return testDriver(name, parseOrThrow(storageConfigSchema, raw, `storage "${name}"`));
  }

  /** Writes, reads back and deletes a small object in a saved storage. */
  async test(actor: Actor, name: string) {
    const { catalog } = this.ctx.runtime;
    return this.ctx.guard.run(
      actor,
      { storage: name },
      'storage.test',
      async () => testDriver(name, await catalog.storageConfig(name)),
      {
        after: (result) =>
          result.ok ? { ok: true, elapsedMs: result.elapsedMs } : { ok: false, stage: result.stage, kind: result.kind },
      },
    );
  }

  async remove(actor: Actor, name: string) {
    const { catalog } = this.ctx.runtime;
    const before = await catalog.getStorage(name).then(storageSettings, () => undefined);
    return this.ctx.guard.run(actor, { storage: name }, 'storage.delete', () => catalog.removeStorage(name), {
      before,
      after: () => null,
    });
  }

  async list(actor: Actor) {
    const allowed = await this.ctx.guard.readable(actor);
    return (await this.ctx.runtime.catalog.listStorages()).filter((s) => allowed.has(s.workspaceId));
  }

  /**
   * After the role check: settings that run programs or reach paths beyond the workspace's
   * storage root need the instance's privileges (./privileges.ts says which).
   */
  private async authorizeSettings(
    actor: Actor,
    name: string,
    raw: unknown,
    workspaceId: number,
    action: Action,
    existing: boolean,
  ) {
    const { guard, runtime } = this.ctx;
    const parsed = storageConfigSchema.safeParse(raw);
    if (!parsed.success || isInstanceLevel(actor)) return;
    const before = existing ? await runtime.catalog.storageConfig(name) : undefined;
    const workspace = await guard.access.workspaceById(workspaceId);
    const refusals = await storageRefusals(parsed.data, before, {
      instanceRoot: runtime.config.localStorageRoot,
      workspaceName: workspace?.name ?? String(workspaceId),
    });
    for (const refusal of refusals)
      await guard.authz.authorizeInstance(actor, workspaceId, action, refusal, { type: 'storage', name });
  }
}
