/**
 * The manifests beside rewritten objects, brought up to date: a manifest records its object's
 * SHA-256 and size (and a logical backup's, its roles object's), which a rotation's rewrite changes.
 */
import { CATALOG_BACKUP_PREFIX } from '../crypto/object-identity.ts';
import { FORMAT_VERSION } from '../crypto/backup-header.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { writeJsonObject } from '../storage/shared/json-object.ts';
import type { Rewritten } from './rewrite-object.ts';

/** What a rewritten object is to its manifest: the object, or a logical backup's roles object. */
export interface ManifestEntry {
  manifestKey: string;
  /** Set for a logical backup's own object: the catalog records its checksum too. */
  backupId?: string;
  field: 'object' | 'roles';
}

const LOGICAL = /^([^/]+)\/(\d{8}T\d{6}Z-[0-9a-f]{6})\.(dump|roles)\.hsb$/;

export function manifestEntryOf(objectKey: string): ManifestEntry | undefined {
  const match = LOGICAL.exec(objectKey);
  if (!match) return undefined;
  const [, prefix, id, kind] = match;
  const manifestKey = `${prefix}/${id}.json`;
  if (kind === 'roles') return { manifestKey, field: 'roles' };
  return prefix === CATALOG_BACKUP_PREFIX
    ? { manifestKey, field: 'object' }
    : { manifestKey, field: 'object', backupId: id! };
}

async function readJson(driver: StorageDriver, key: string): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const part of await driver.openRead(key)) parts.push(part as Buffer);
  return JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
}

/** Writes the new checksums (and the object's header and key) into the manifest. */
export async function patchManifest(
  driver: StorageDriver,
  entry: ManifestEntry,
  rewritten: Rewritten,
  keyId: string,
): Promise<void> {
  const manifest = await readJson(driver, entry.manifestKey);
  const field = manifest[entry.field] as Record<string, unknown> | undefined;
  if (!field) return;
  field.sha256 = rewritten.sha256;
  field.sizeBytes = rewritten.sizeBytes;
  const encryption = manifest.encryption as Record<string, unknown> | undefined;
  if (entry.field === 'object' && encryption) {
    encryption.version = FORMAT_VERSION;
    encryption.keyId = keyId;
    if ('header' in encryption) encryption.header = rewritten.header.toString('base64');
  }
  await writeJsonObject(driver, entry.manifestKey, manifest);
}
