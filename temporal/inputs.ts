/** Kept for cli/pitr-restore.ts; everything else imports temporal/contracts/. */
export { describeInputError } from './contracts/common.ts';
