/**
 * Preloaded into the soak's worker (`--expose-gc --import`): every 30 s a full collection, then the
 * main thread's V8 heap in use as a JSON log line. Heap used read at a random moment is mostly
 * garbage not collected yet; after a forced collection it is what the worker really holds.
 */
import v8 from 'node:v8';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('heap-probe.ts needs node --expose-gc');

setInterval(() => {
  gc();
  const heap = v8.getHeapStatistics();
  process.stdout.write(
    `${JSON.stringify({ msg: 'heap after gc', time: Date.now(), heapUsed: heap.used_heap_size })}\n`,
  );
}, 30_000).unref();
