// The database page's data contract, from the service layer that produces it.
export type {
  BackupPoint,
  ConsoleDatabaseView,
  ConsoleRetentionPlan,
  ConsoleVerificationView,
  LiveJob,
  UptimeSegment,
  UptimeWindow,
} from './server/view/database.ts';
export type { ConsoleStoragePlan, ConsoleStorageRetention } from './server/view/storage-retention.ts';
export type { VerificationReport, StageRecord, TableComparison } from '../../../lib/verify/report.ts';
