/**
 * `hindsight catalog rebuild`: recreates the catalog's rows from what one storage holds, with the
 * key alone (lib/catalog/rebuild/). It registers the storage as `storage add` would, reads it,
 * plans the rows and writes them group by group; running it again adds nothing. It changes the
 * whole installation, so only the instance's owner or the local operator may run it, and it is
 * written to the audit log.
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_WORKSPACE_ID } from '../../lib/catalog/access.ts';
import { rebuildFromStorage } from '../../lib/catalog/rebuild/run.ts';
import type { RebuildReport } from '../../lib/catalog/rebuild/report.ts';
import type { DecryptionKey } from '../../lib/crypto/chunked-gcm.ts';
import { parseSecretKeyFile } from '../../lib/crypto/secret-key.ts';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import { createStorageDriver, storageConfigSchema, type StorageConfig } from '../../lib/storage/index.ts';
import { isInstanceLevel, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { parseOrThrow } from '../input.ts';
import { StorageService, storageNameSchema } from '../storages/service.ts';

export interface RebuildInput {
  /** The storage's configuration, as `storage add --config` takes it. */
  storageConfig: unknown;
  /** Its name in the catalog (default: its type). */
  storageName?: string | undefined;
  /** A key file that wrote the objects, besides the installation's keys. */
  keyFile?: string | undefined;
}

export const REBUILD_AUDIT_ACTION = 'catalog.rebuild';

/** JSON with sorted keys: two configurations are the same storage when these are equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

export class CatalogRebuildService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  async rebuild(actor: Actor, input: RebuildInput): Promise<RebuildReport> {
    const config = parseOrThrow(storageConfigSchema, input.storageConfig, '--storage-config');
    const name = parseOrThrow(storageNameSchema, input.storageName ?? config.type, '--storage-name');
    const target = { type: 'storage', name };
    await this.requireInstance(actor, target);
    const key = await this.decryptionKey(input.keyFile);
    const { authz } = this.ctx.guard;
    try {
      const storageAdded = await this.registerStorage(actor, name, config);
      const report = { storageAdded, ...(await this.readAndRecord(name, config, key)) };
      await authz.audit(actor, {
        workspaceId: DEFAULT_WORKSPACE_ID,
        action: REBUILD_AUDIT_ACTION,
        target,
        outcome: 'ok',
        after: { ...report, unreadable: report.unreadable.length },
      });
      return report;
    } catch (error) {
      await authz.audit(actor, {
        workspaceId: DEFAULT_WORKSPACE_ID,
        action: REBUILD_AUDIT_ACTION,
        target,
        outcome: 'failed',
        detail: errorMessage(error),
      });
      throw error;
    }
  }

  private async readAndRecord(name: string, config: StorageConfig, key: DecryptionKey) {
    const { catalog } = this.ctx.runtime;
    const driver = createStorageDriver(name, config);
    try {
      return await rebuildFromStorage(catalog.rebuild, { name, driver }, key);
    } finally {
      await driver.close?.().catch(() => undefined);
    }
  }

  /** A rebuild writes databases, backups and storages of every workspace: the installation's privilege. */
  private async requireInstance(actor: Actor, target: { type: string; name: string }): Promise<void> {
    if (isInstanceLevel(actor)) return;
    await this.ctx.guard.authz.audit(actor, {
      workspaceId: null,
      action: REBUILD_AUDIT_ACTION,
      target,
      outcome: 'denied',
    });
    throw new HindsightError(
      'forbidden',
      'rebuilding the catalog is for the installation owner or the local operator (run it on the server without --as)',
    );
  }

  /** Registers the storage unless it is there with the same settings; a name taken by other settings is refused. */
  private async registerStorage(actor: Actor, name: string, config: StorageConfig): Promise<boolean> {
    const { catalog } = this.ctx.runtime;
    const known = (await catalog.listStorages()).some((s) => s.name === name);
    if (!known) {
      await new StorageService(this.ctx).save(actor, name, config, { skipCheck: true });
      return true;
    }
    if (canonical(await catalog.storageConfig(name)) === canonical(config)) return false;
    throw new HindsightError(
      'conflict',
      `storage "${name}" is already registered with other settings: give this one another name with --storage-name`,
    );
  }

  /** The installation's keys, and the key file given, chosen by the key id each object names. */
  private async decryptionKey(keyFile: string | undefined): Promise<DecryptionKey> {
    const { keyring } = this.ctx.runtime;
    if (keyFile === undefined) return keyring.resolve;
    const extra = parseSecretKeyFile(await readFile(keyFile, 'utf8'), keyFile);
    return (keyId: string) => (keyId === extra.id ? extra : keyring.resolve(keyId));
  }
}
