import type { Client } from '@temporalio/client';
import { backupCompletedSignal, type VerifyRequest } from './messages.ts';
import type { RestoreVerifierInput } from './inputs.ts';
import { jobAttributes } from './search-attributes.ts';

export const verifierWorkflowId = (database: string) => `verify/${database}`;

/** A verification id that sorts by request time and says what asked for it. */
export function newVerificationId(now: Date, random: string): string {
  return `v-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '').toLowerCase()}-${random}`;
}

/** Starts the database's verifier if it is not running, and hands it the request. */
export async function signalVerifier(client: Client, taskQueue: string, database: string, request: VerifyRequest): Promise<void> {
  const input: RestoreVerifierInput = { database };
  await client.workflow.signalWithStart('restoreVerifier', {
    workflowId: verifierWorkflowId(database),
    taskQueue,
    args: [input],
    signal: backupCompletedSignal,
    signalArgs: [request],
    typedSearchAttributes: jobAttributes(database, 'verify'),
  });
}
