import type { Readable } from 'node:stream';
import { HindsightError, errorMessage } from '../errors.ts';
import type { StorageDriver } from '../storage/contract.ts';
import {
  checkManifestAgainstRecord,
  expectationFor,
  type BackupExpectation,
  type RecordedChecksums,
} from './expectation.ts';
import { backupObjectKey, manifestKey, rolesObjectKey } from './ids.ts';
import { manifestSchema, type BackupManifest } from './manifest.ts';

export interface BackupSource {
  name: string;
  driver: StorageDriver;
}

export interface OpenedBackup {
  storageName: string;
  driver: StorageDriver;
  manifest: BackupManifest;
  object: Readable;
  /** What the object must turn out to be (identity, checksums): readers check it. */
  expect: BackupExpectation;
}

export async function readManifest(
  driver: StorageDriver,
  databaseName: string,
  backupId: string,
): Promise<BackupManifest> {
  const key = manifestKey(databaseName, backupId);
  const chunks: Buffer[] = [];
  for await (const chunk of await driver.openRead(key)) chunks.push(chunk as Buffer);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    throw new HindsightError(
      'integrity',
      `manifest '${key}' of backup ${backupId} in storage ${driver.label} is not JSON: ${errorMessage(error)}`,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new HindsightError(
      'integrity',
      `manifest '${key}' of backup ${backupId} in storage ${driver.label} is invalid: ${parsed.error.issues[0]?.message}`,
    );
  }
  if (parsed.data.backupId !== backupId || parsed.data.database !== databaseName) {
    throw new HindsightError(
      'integrity',
      `manifest '${key}' in storage ${driver.label} describes backup ${parsed.data.backupId} of "${parsed.data.database}"`,
    );
  }
  return parsed.data;
}

/**
 * A manifest that names other objects than its backup's is damaged or rewritten: its readers would
 * open the wrong ones (a restore that reads the roles would be refused there, one that does not would
 * never notice). Checked after the catalog's checksums, which name the more telling mismatch.
 */
function refuseStrayKeys(manifest: BackupManifest, label: string): void {
  const { database, backupId, object, roles } = manifest;
  const stray =
    object.key !== backupObjectKey(database, backupId)
      ? `object '${object.key}'`
      : roles && roles.key !== rolesObjectKey(database, backupId)
        ? `roles object '${roles.key}'`
        : undefined;
  if (stray)
    throw new HindsightError(
      'integrity',
      `manifest '${manifestKey(database, backupId)}' in storage ${label} points at ${stray} instead of its own`,
    );
}

/**
 * Opens the backup from the first source that has it whole (manifest readable and matching the
 * catalog's record when there is one, object present with the manifest's size), trying the next
 * one on any failure and saying why. The object's identity and SHA-256 are checked by whoever
 * reads the stream (`expect`).
 */
export async function openBackupFromAny(
  sources: BackupSource[],
  databaseName: string,
  backupId: string,
  onFallback?: (storageName: string, reason: string) => void,
  recorded?: RecordedChecksums,
): Promise<OpenedBackup> {
  const failures: string[] = [];
  for (const source of sources) {
    try {
      const manifest = await readManifest(source.driver, databaseName, backupId);
      checkManifestAgainstRecord(manifest, recorded, source.driver.label);
      // With no record (storage alone), the object's authenticated identity is what refuses a stray one.
      if (recorded) refuseStrayKeys(manifest, source.driver.label);
      const info = await source.driver.stat(manifest.object.key);
      if (!info)
        throw new HindsightError(
          'not_found',
          `storage ${source.driver.label}: object '${manifest.object.key}' is missing`,
        );
      if (info.size !== manifest.object.sizeBytes) {
        throw new HindsightError(
          'integrity',
          `storage ${source.driver.label}: object '${manifest.object.key}' holds ${info.size} bytes, the manifest says ${manifest.object.sizeBytes}`,
        );
      }
      const object = await source.driver.openRead(manifest.object.key);
      return {
        storageName: source.name,
        driver: source.driver,
        manifest,
        object,
        expect: expectationFor(manifest, recorded, source.driver.label),
      };
    } catch (error) {
      const reason = errorMessage(error);
      failures.push(reason);
      onFallback?.(source.name, reason);
    }
  }
  if (sources.length === 0)
    throw new HindsightError('not_found', `backup ${backupId} has no complete copy in any storage`);
  throw new HindsightError(
    'not_found',
    `backup ${backupId} could not be read from any storage: ${failures.join('; ')}`,
  );
}
