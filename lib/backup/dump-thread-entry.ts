import { parentPort, workerData } from 'node:worker_threads';
import { secretKeyFromBytes } from '../crypto/secret-key.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { createStorageDriver } from '../storage/index.ts';
import { streamDumpToStorage } from './dump.ts';
import type { DumpThreadInput, DumpThreadMessage } from './dump-in-thread.ts';

const input = workerData as DumpThreadInput;
const port = parentPort!;
const abort = new AbortController();
port.on('message', (message: { type: 'abort' }) => {
  if (message.type === 'abort') abort.abort();
});
const send = (message: DumpThreadMessage) => port.postMessage(message);

streamDumpToStorage({
  databaseName: input.databaseName,
  backupId: input.backupId,
  target: input.target,
  storage: createStorageDriver(input.storageName, input.storageConfig),
  key: secretKeyFromBytes(Buffer.from(input.keyBytes)),
  signal: abort.signal,
  onProgress: (progress) => send({ type: 'progress', progress }),
}).then(
  (manifest) => send({ type: 'done', manifest }),
  (error: unknown) => send({
    type: 'error',
    kind: error instanceof HindsightError ? error.kind : 'tool_failed',
    message: errorMessage(error),
  }),
);
