// Components import the page data contract from here, so only one file knows where it lives.
import type { ConsoleBackup } from './server/view/types.ts';

export type {
  ConsoleBackup,
  ConsoleDatabase,
  ConsoleOverview,
  ConsoleUser,
  DatabaseStatus,
  DatabaseStatusReport,
  StatusProblem,
} from './server/view/types.ts';
export type { ConsoleHookView } from './server/view/hooks.ts';

export type BackupStatus = ConsoleBackup['status'];
export type RestoreStatus = NonNullable<ConsoleBackup['restore']>['status'];

/** What the `?/backup` action returns, either way it went; the page hands it to the card it concerns. */
export interface BackupResult {
  database?: string | null;
  error?: string;
  backupId?: string;
  workflowId?: string;
  verificationId?: string;
}
