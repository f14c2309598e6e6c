/** The encrypted pg_dump archive. `.hsb` marks the Hindsight encrypted format (docs/backup-format.md). */
export function backupObjectKey(databaseName: string, backupId: string): string {
  return `${databaseName}/${backupId}.dump.hsb`;
}

export function manifestKey(databaseName: string, backupId: string): string {
  return `${databaseName}/${backupId}.json`;
}
