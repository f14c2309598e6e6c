export { backupDatabase } from './backup-database.ts';
export { restoreBackup } from './restore-backup.ts';
export { replicateBackup } from './replicate-backup.ts';
export { restoreVerifier } from './restore-verifier.ts';
export { healthMonitor } from './health-monitor.ts';
export { gfsRetention } from './gfs-retention.ts';
export { scheduledVerification } from './scheduled-verification.ts';
