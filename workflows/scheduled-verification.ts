import {
  scheduledVerificationInput,
  scheduledVerificationWorkflow,
  type ScheduledVerificationInput,
} from '../temporal/contracts/verify.ts';
import { catalogActivities } from './activity-options.ts';
import { parseInput } from './validate.ts';

/** Started by the `verify/<db>` schedule: asks the database's verifier to prove its newest backup. */
export async function scheduledVerification(
  raw: ScheduledVerificationInput,
): Promise<{ verificationId: string | null }> {
  const { database } = parseInput(scheduledVerificationWorkflow.type, scheduledVerificationInput, raw);
  return catalogActivities.requestVerification({ database, trigger: 'schedule' });
}
