/** The encrypted pg_dump archive. `.hsb` marks the Hindsight encrypted format (docs/backup-format.md). */
export function backupObjectKey(databaseName: string, backupId: string): string {
  return `${databaseName}/${backupId}.dump.hsb`;
}

/** The roles the backup needs (lib/backup/roles.ts), encrypted like the dump, beside it. */
export function rolesObjectKey(databaseName: string, backupId: string): string {
  return `${databaseName}/${backupId}.roles.hsb`;
}

/** Every object of a backup but its manifest, which is written last and removed last. */
export function backupObjectKeys(databaseName: string, backupId: string): string[] {
  return [backupObjectKey(databaseName, backupId), rolesObjectKey(databaseName, backupId)];
}

export function manifestKey(databaseName: string, backupId: string): string {
  return `${databaseName}/${backupId}.json`;
}

/**
 * The name a backup is stored under: the first part of the object key the catalog recorded, which
 * is the database's name when the backup was taken. A rename leaves objects, manifests and the
 * identity in each header with that name, so every read and removal goes there, not to the
 * current name. A backup with no recorded key (never finished) is under the current name.
 */
export function storedDatabaseName(backup: { objectKey: string | null; databaseName: string }): string {
  const slash = backup.objectKey?.indexOf('/') ?? -1;
  return slash > 0 ? backup.objectKey!.slice(0, slash) : backup.databaseName;
}
