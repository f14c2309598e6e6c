/**
 * A base backup's backup_manifest on its way to storage: copied to a private file as the tar
 * streams past (it grows with the number of files in the cluster, so it is not held in memory),
 * then compressed and encrypted into an object of its own beside the backup.
 */
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { EncryptionKey } from '../crypto/chunked-gcm.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { BASE_BACKUP_ZSTD_LEVEL, compressEncryptToStorage } from './segment-codec.ts';

export interface StoredManifest {
  objectKey: string;
  storedBytes: number;
  /** SHA-256 of the manifest's own bytes. */
  sha256: string;
  /** SHA-256 of the stored (compressed and encrypted) object. */
  storedSha256: string;
}

export class ManifestSpill {
  private readonly file: string;
  private fd: number | undefined;

  /** `workDir` is the worker's own 0700 directory. */
  constructor(workDir: string) {
    this.file = path.join(workDir, 'backup_manifest.out');
    this.fd = openSync(this.file, 'w', 0o600);
  }

  write(bytes: Buffer): void {
    if (this.fd !== undefined) writeSync(this.fd, bytes);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  async upload(options: {
    driver: StorageDriver;
    objectKey: string;
    key: EncryptionKey;
    signal?: AbortSignal | undefined;
  }): Promise<StoredManifest> {
    this.close();
    const stored = await compressEncryptToStorage({
      source: createReadStream(this.file),
      driver: options.driver,
      objectKey: options.objectKey,
      key: options.key,
      level: BASE_BACKUP_ZSTD_LEVEL,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return {
      objectKey: options.objectKey,
      storedBytes: stored.storedBytes,
      sha256: stored.rawSha256,
      storedSha256: stored.storedSha256,
    };
  }
}
