/** Backups as the actor may read them, and the download of one (audited: it hands out data). */
import { downloadStream } from '../../lib/backup/download.ts';
import { recordedChecksums } from '../../lib/backup/expectation.ts';
import { storedDatabaseName } from '../../lib/backup/ids.ts';
import { compressedWhere } from '../../lib/backup/manifest.ts';
import { openBackupFromAny } from '../../lib/backup/sources.ts';
import { createStorageDriver } from '../../lib/storage/index.ts';
import type { Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';

export interface DownloadOptions {
  decrypt: boolean;
  onFallback?: (storage: string, reason: string) => void;
}

export class BackupReads {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** Newest first: one database's, or the newest 100 across the actor's workspaces. */
  async list(actor: Actor, database?: string) {
    const {
      guard,
      runtime: { catalog },
    } = this.ctx;
    if (database) return guard.run(actor, { database }, 'history.read', () => catalog.listBackups(database));
    return catalog.listBackups(undefined, 100, await guard.authz.workspacesAllowing(actor, 'history.read'));
  }

  async get(actor: Actor, backupId: string) {
    return this.ctx.guard.run(actor, { backup: backupId }, 'history.read', () =>
      this.ctx.runtime.catalog.getBackup(backupId),
    );
  }

  /**
   * A backup as a stream, from the first storage that has it whole (falling back to the next),
   * checked end to end against the catalog's record and the identity in the object's header.
   * Decrypted, it is the archive pg_restore reads.
   */
  async download(actor: Actor, backupId: string, options: DownloadOptions) {
    return this.ctx.guard.run(actor, { backup: backupId }, 'backup.download', () => this.open(backupId, options), {
      after: (d) => ({ database: d.database, storage: d.storageName, decrypted: options.decrypt, bytes: d.sizeBytes }),
    });
  }

  private async open(backupId: string, options: DownloadOptions) {
    const { catalog, keyring } = this.ctx.runtime;
    const backup = await catalog.getBackup(backupId);
    const names = backup.copies.filter((c) => c.status === 'complete').map((c) => c.storageName);
    const sources = await Promise.all(
      names.map(async (name) => ({ name, driver: createStorageDriver(name, await catalog.storageConfig(name)) })),
    );
    const closeAll = () =>
      Promise.all(sources.map((src) => src.driver.close?.().catch(() => undefined))).then(() => undefined);
    try {
      const opened = await openBackupFromAny(
        sources,
        storedDatabaseName(backup),
        backupId,
        options.onFallback,
        recordedChecksums(backup),
      );
      const stream = downloadStream(opened, keyring.decryption(), { decrypt: options.decrypt });
      stream.once('close', () => void closeAll());
      const fileName = `${backup.databaseName}-${backupId}${options.decrypt ? '.dump' : '.dump.hsb'}`;
      // Decrypting a dump compressed outside pg_dump also decompresses it: its size is known once written.
      const sizeBytes = !options.decrypt
        ? opened.manifest.object.sizeBytes
        : compressedWhere(opened.manifest) === 'outside'
          ? null
          : opened.manifest.dump.sizeBytes;
      return { stream, fileName, storageName: opened.storageName, sizeBytes, database: backup.databaseName };
    } catch (error) {
      await closeAll();
      throw error;
    }
  }
}
