import { uuid4, workflowInfo } from '@temporalio/workflow';
import { backupIdAt } from '../temporal/contracts/common.ts';

/** A random hex string; workflow-safe, since uuid4 here is seeded by the run and replays the same. */
const randomHex = (): string => uuid4().replace(/-/g, '');

/** The id of a backup this run takes: its start time and a random suffix. */
export const newBackupId = (): string => backupIdAt(workflowInfo().startTime, randomHex());

/** The id of a restore this run makes, e.g. `r-0123456789ab`. */
export const newRestoreId = (prefix: string): string => `${prefix}-${randomHex().slice(0, 12)}`;
