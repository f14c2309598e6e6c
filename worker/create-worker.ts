import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ProgressSink } from '../activities/index.ts';
import type { Logger } from '../lib/logger.ts';
import type { Runtime } from '../services/runtime.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** The main worker: every workflow and activity of Hindsight on one task queue. */
export async function createHindsightWorker(runtime: Runtime, logger: Logger, overrides: Partial<WorkerOptions> = {}) {
  const { config } = runtime;
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const clientConnection = await Connection.connect({ address: config.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: config.temporalNamespace });
  const progress: ProgressSink = {
    send: (workflowId, runId, signal, report) => client.workflow.getHandle(workflowId, runId).signal(signal, report),
  };
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    workflowsPath,
    activities: createActivities({ catalog: runtime.catalog, key: runtime.key, logger, progress }),
    // One dump at a time per core keeps memory bounded and leaves room for the server.
    maxConcurrentActivityTaskExecutions: 4,
    ...overrides,
  });
  return {
    worker,
    async close() {
      await connection.close();
      await clientConnection.close();
    },
  };
}
