import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { storageError, type AtomicWrite, type ObjectInfo } from '../contract.ts';

/**
 * The commit/abort protocol of a write into a temporary place (a partial file, a process's
 * stdin): each settles once; commit waits for the stream to finish, then publishes; any failure,
 * and abort, discard what was written.
 */
export function partialWrite(options: {
  label: string;
  key: string;
  stream: Writable;
  /** Makes the finished object visible under its key (a rename) and says what it is. */
  publish(): Promise<ObjectInfo>;
  /** Stops the stream and removes the temporary object; abort passes its failure on. */
  discard(): Promise<void>;
  /** The failure of a commit in the storage's words. */
  explain(error: unknown): Error | Promise<Error>;
}): AtomicWrite {
  const { label, key, stream } = options;
  let settled = false;
  return {
    stream,
    async commit() {
      if (settled) throw storageError('tool_failed', label, 'write', key, 'write already settled');
      settled = true;
      try {
        if (!stream.writableFinished) await finished(stream);
        return await options.publish();
      } catch (error) {
        await options.discard().catch(() => undefined);
        throw await options.explain(error);
      }
    },
    async abort() {
      if (settled) return;
      settled = true;
      await options.discard();
    },
  };
}
