/**
 * Preloaded into the soak's worker (`--expose-gc --import`): every 30 s a full collection, then the
 * main thread's V8 heap in use, and the heap in use of each worker thread (the SDK's workflow
 * thread, the data plane), as a JSON log line. Heap used read at a random moment is mostly garbage
 * not collected yet; after a forced collection it is what the worker really holds. The threads'
 * heaps cannot be collected from here: theirs are read as they are.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';
import type * as WorkerThreads from 'node:worker_threads';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('heap-probe.ts needs node --expose-gc');

/** Threads inherit the preload: only the main thread probes, and reads the others' heaps. */
function probe(collect: () => void): void {
  // Every thread the process starts from now on is remembered: the SDK and the data plane both
  // construct `worker_threads.Worker`, the one patched here before either module loads.
  const threads = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
  const live = new Set<WorkerThreads.Worker>();
  const Original = threads.Worker;
  class TrackedWorker extends Original {
    constructor(...args: ConstructorParameters<typeof Original>) {
      super(...args);
      live.add(this);
      this.once('exit', () => live.delete(this));
    }
  }
  threads.Worker = TrackedWorker;
  syncBuiltinESMExports();

  const threadHeaps = async (): Promise<number> => {
    let sum = 0;
    for (const thread of live) sum += (await thread.getHeapStatistics().catch(() => undefined))?.used_heap_size ?? 0;
    return sum;
  };

  setInterval(() => {
    collect();
    const heapUsed = v8.getHeapStatistics().used_heap_size;
    void threadHeaps().then((threadsHeapUsed) =>
      process.stdout.write(
        `${JSON.stringify({ msg: 'heap after gc', time: Date.now(), heapUsed, threadsHeapUsed, threads: live.size })}\n`,
      ),
    );
  }, 30_000).unref();
}

if (isMainThread) probe(gc);
