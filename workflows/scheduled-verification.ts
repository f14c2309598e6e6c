import { scheduledVerificationInput, type ScheduledVerificationInput } from '../temporal/inputs.ts';
import { catalogActivities } from './activity-options.ts';
import { parseInput } from './validate.ts';

/** Started by the `verify/<db>` schedule: asks the database's verifier to prove its newest backup. */
export async function scheduledVerification(raw: ScheduledVerificationInput): Promise<{ verificationId: string | null }> {
  const { database } = parseInput('scheduledVerification', scheduledVerificationInput, raw);
  return catalogActivities.requestVerification({ database, trigger: 'schedule' });
}
