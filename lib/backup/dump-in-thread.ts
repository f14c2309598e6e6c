import { Worker } from 'node:worker_threads';
import type { SecretKey } from '../crypto/secret-key.ts';
import { HindsightError, type ErrorKind } from '../errors.ts';
import type { PgTarget } from '../pg/connection.ts';
import type { StorageConfig } from '../storage/index.ts';
import type { DumpProgress } from './dump.ts';
import type { BackupManifest } from './manifest.ts';

export interface DumpThreadInput {
  databaseName: string;
  backupId: string;
  target: PgTarget;
  storageName: string;
  storageConfig: StorageConfig;
  keyBytes: Uint8Array;
}

export type DumpThreadMessage =
  | { type: 'progress'; progress: DumpProgress }
  | { type: 'done'; manifest: BackupManifest }
  | { type: 'error'; kind: ErrorKind; message: string };

const entry = new URL('./dump-thread.mjs', import.meta.url);

/**
 * Runs streamDumpToStorage in a worker thread. Every byte of a dump passes through the pipeline's
 * buffers; in the worker's main thread their garbage is collected across the whole heap of the
 * Temporal worker (tens of MiB, many times per backup), taking CPU from pg_dump on small machines.
 * A thread has its own small heap, so the same garbage costs a fraction of that.
 */
export function streamDumpToStorageInThread(
  input: Omit<DumpThreadInput, 'keyBytes'> & { key: SecretKey; signal?: AbortSignal; onProgress?: (p: DumpProgress) => void },
): Promise<BackupManifest> {
  const { key, signal, onProgress, ...rest } = input;
  const workerData: DumpThreadInput = { ...rest, keyBytes: new Uint8Array(key.bytes) };
  return new Promise((resolve, reject) => {
    const thread = new Worker(entry, { workerData, execArgv: [] });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      // The thread listens for an abort message, which keeps it alive: end it once it has answered.
      void thread.terminate();
      fn();
    };
    const onAbort = () => thread.postMessage({ type: 'abort' });
    signal?.addEventListener('abort', onAbort, { once: true });
    thread.on('message', (message: DumpThreadMessage) => {
      if (message.type === 'progress') onProgress?.(message.progress);
      else if (message.type === 'done') settle(() => resolve(message.manifest));
      else settle(() => reject(new HindsightError(message.kind, message.message)));
    });
    thread.on('error', (error) => settle(() => reject(new HindsightError('tool_failed', `backup of "${input.databaseName}" failed in its thread: ${error.message}`))));
    thread.on('exit', (code) => settle(() => reject(new HindsightError('tool_failed', `backup of "${input.databaseName}": its thread exited (${code}) without a result`))));
  });
}
