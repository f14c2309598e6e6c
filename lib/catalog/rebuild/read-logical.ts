/**
 * The logical backups one storage holds, read for a catalog rebuild: every `<db>/<id>.json`
 * manifest, checked against its own key and the objects beside it as the adoption scan checks it
 * (lib/backup/adopt-match.ts), then proved with the key: the dump's header (and the roles object's)
 * must authenticate as this backup of this database.
 */
import { MAX_MANIFEST_BYTES, backupIdOfManifestKey, matchManifest, parseManifest } from '../../backup/adopt-match.ts';
import type { BackupManifest } from '../../backup/manifest.ts';
import type { DecryptionKey } from '../../crypto/chunked-gcm.ts';
import {
  CATALOG_BACKUP_PREFIX,
  logicalBackupIdentity,
  logicalBackupRolesIdentity,
} from '../../crypto/object-identity.ts';
import { errorMessage } from '../../errors.ts';
import { NAME_PATTERN } from '../../names.ts';
import type { ObjectInfo, StorageDriver } from '../../storage/contract.ts';
import { READ_CONCURRENCY, mapBounded } from './bounded.ts';
import type { Unreadable } from './findings.ts';
import { proveObjectIdentity } from './header-proof.ts';
import { readListed } from './read-object.ts';

export interface LogicalScan {
  backups: BackupManifest[];
  unreadable: Unreadable[];
}

/**
 * `<db>/<id>.json` keys, as database name and backup id. The catalog's own backups share the layout
 * (`hindsight-catalog/<id>.json`) and the storage, but are no database's: `catalog restore` reads them.
 */
export function manifestKeysIn(listing: ObjectInfo[]): Array<{ info: ObjectInfo; database: string; backupId: string }> {
  const found: Array<{ info: ObjectInfo; database: string; backupId: string }> = [];
  for (const info of listing) {
    const slash = info.key.indexOf('/');
    const database = info.key.slice(0, slash);
    if (slash <= 0 || database === CATALOG_BACKUP_PREFIX || !NAME_PATTERN.test(database)) continue;
    const backupId = backupIdOfManifestKey(database, info.key);
    if (backupId !== undefined) found.push({ info, database, backupId });
  }
  return found;
}

/** The manifest if it and its objects hold; the reason otherwise. */
async function examine(
  driver: StorageDriver,
  at: { info: ObjectInfo; database: string; backupId: string },
  sizes: Map<string, number>,
  key: DecryptionKey,
): Promise<BackupManifest | string> {
  if (at.info.size > MAX_MANIFEST_BYTES) return `the manifest is ${at.info.size} bytes, too large to be one`;
  const parsed = parseManifest((await readListed(driver, at.info.key, at.info.size)).toString('utf8'));
  if ('reason' in parsed) return parsed.reason;
  const { manifest } = parsed;
  const verdict = matchManifest(manifest, {
    name: at.database,
    backupId: at.backupId,
    source: { database: manifest.source.database },
  });
  if (!verdict.adopt) return verdict.reason;
  const objects = [
    { what: 'object', entry: manifest.object, identity: logicalBackupIdentity(at.database, at.backupId) },
    ...(manifest.roles
      ? [
          {
            what: 'roles object',
            entry: manifest.roles,
            identity: logicalBackupRolesIdentity(at.database, at.backupId),
          },
        ]
      : []),
  ];
  for (const { what, entry, identity } of objects) {
    const size = sizes.get(entry.key);
    if (size === undefined) return `its ${what} '${entry.key}' is missing`;
    if (size !== entry.sizeBytes)
      return `its ${what} '${entry.key}' holds ${size} bytes, the manifest says ${entry.sizeBytes}`;
    await proveObjectIdentity(driver, entry.key, key, identity, { size });
  }
  return manifest;
}

/** Reads every logical backup in `listing` (the whole storage's); what does not hold is listed, not taken. */
export async function readLogicalBackups(
  driver: StorageDriver,
  listing: ObjectInfo[],
  key: DecryptionKey,
): Promise<LogicalScan> {
  const sizes = new Map(listing.map((o) => [o.key, o.size]));
  const scan: LogicalScan = { backups: [], unreadable: [] };
  const manifests = manifestKeysIn(listing);
  const results = await mapBounded(manifests, READ_CONCURRENCY, (at) =>
    examine(driver, at, sizes, key).catch((error: unknown) => errorMessage(error)),
  );
  results.forEach((result, i) => {
    if (typeof result === 'string') scan.unreadable.push({ key: manifests[i]!.info.key, reason: result });
    else scan.backups.push(result);
  });
  return scan;
}
