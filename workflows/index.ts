export { backupDatabase } from './backup-database.ts';
export { restoreBackup } from './restore-backup.ts';
export { replicateBackup } from './replicate-backup.ts';
