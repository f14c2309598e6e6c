/** Kept for cli/pitr-restore.ts; everything else imports temporal/contracts/pitr.ts. */
export { pitrRestoreInput, pitrRestoreWorkflowId, type PitrOutcome, type PitrRestoreInput } from './contracts/pitr.ts';
