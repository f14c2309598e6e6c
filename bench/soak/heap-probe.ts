/**
 * Preloaded into the soak's worker (`--expose-gc --import`): every 30 s a full collection, then the
 * main thread's V8 heap in use, and the heap in use of each worker thread (the SDK's workflow
 * thread, the data plane), as a JSON log line. Heap used read at a random moment is mostly garbage
 * not collected yet; after a forced collection it is what the worker really holds. The threads'
 * heaps cannot be collected from here: theirs are read as they are. Beside them, the main thread's
 * memory outside its heap (`external`, of which `arrayBuffers` are the Buffers), also after the
 * collection, which frees the Buffers nothing holds any more; and the physical memory all the V8
 * heaps have committed, which is in the RSS whether or not the heaps use it: RSS less that is what
 * the allocator and native code hold.
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

  /** The threads' heaps in use, and the physical memory every heap (the main one too) has committed. */
  const threadHeaps = async (mainPhysical: number) => {
    let [threadsHeapUsed, heapsPhysical] = [0, mainPhysical];
    for (const thread of live) {
      const stats = await thread.getHeapStatistics().catch(() => undefined);
      threadsHeapUsed += stats?.used_heap_size ?? 0;
      heapsPhysical += stats?.total_physical_size ?? 0;
    }
    return { threadsHeapUsed, heapsPhysical };
  };

  setInterval(() => {
    collect();
    const { used_heap_size: heapUsed, total_physical_size: mainPhysical } = v8.getHeapStatistics();
    const { external, arrayBuffers } = process.memoryUsage();
    void threadHeaps(mainPhysical).then((threadHeaps) => {
      const record = { msg: 'heap after gc', time: Date.now(), heapUsed, external, arrayBuffers, ...threadHeaps };
      process.stdout.write(`${JSON.stringify({ ...record, threads: live.size })}\n`);
    });
  }, 30_000).unref();
}

if (isMainThread) probe(gc);
