import { Client, Connection } from '@temporalio/client';
import type { Config } from '../lib/config.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';

export async function connectTemporalClient(config: Pick<Config, 'temporalAddress' | 'temporalNamespace'>): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: config.temporalAddress, connectTimeout: '10 seconds' });
    return new Client({ connection, namespace: config.temporalNamespace });
  } catch (error) {
    throw new HindsightError('unreachable', `Temporal at ${config.temporalAddress} is unreachable (${errorMessage(error)}): start it with npm start, or set TEMPORAL_ADDRESS`);
  }
}

/** Link to a workflow in the Temporal UI. */
export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
