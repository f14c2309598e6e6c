/**
 * Preloaded into the soak's worker (`--expose-gc --import`): every 30 s a full collection in every
 * thread, then the heaps each holds, as one JSON log line. Heap used read at a random moment is
 * mostly garbage not collected yet; after a forced collection it is what the worker really holds.
 * The main thread asks the others (the SDK's workflow thread, the data plane) over a
 * BroadcastChannel, since it cannot collect their heaps itself; each collects its own and answers.
 * Beside the heaps, the main thread's memory outside its heap (`external`, of which `arrayBuffers`
 * are the Buffers), also after the collection; and the physical memory all the V8 heaps have
 * committed, which is in the RSS whether or not the heaps use it: RSS less that is what the
 * allocator and native code hold.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import { BroadcastChannel, isMainThread, threadId } from 'node:worker_threads';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('heap-probe.ts needs node --expose-gc');
const collect = gc;

const CHANNEL = 'hindsight-soak-heap-probe';
/** How long the main thread waits for the threads' answers; a thread busy longer is left out of that round. */
const ANSWER_MS = 2_000;

interface Collected {
  threadId: number;
  heapUsed: number;
  physical: number;
}

function collected(): Collected {
  collect();
  const { used_heap_size: heapUsed, total_physical_size: physical } = v8.getHeapStatistics();
  return { threadId, heapUsed, physical };
}

/** A thread answers each round with its heap after its own collection. */
function answerRounds(): void {
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  channel.onmessage = (event) => {
    if ((event as { data: { round?: number } }).data.round !== undefined) channel.postMessage(collected());
  };
}

/** The main thread starts a round every 30 s and logs what it and the threads hold afterwards. */
function probe(): void {
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  const answers = new Map<number, Collected>();
  channel.onmessage = (event) => {
    const answer = (event as { data: Partial<Collected> }).data;
    if (typeof answer.threadId === 'number') answers.set(answer.threadId, answer as Collected);
  };
  let round = 0;
  setInterval(() => {
    answers.clear();
    channel.postMessage({ round: ++round });
    const main = collected();
    const { external, arrayBuffers } = process.memoryUsage();
    void sleep(ANSWER_MS).then(() => {
      const threads = [...answers.values()];
      const threadsHeapUsed = threads.reduce((sum, t) => sum + t.heapUsed, 0);
      const heapsPhysical = threads.reduce((sum, t) => sum + t.physical, main.physical);
      const record = { msg: 'heap after gc', time: Date.now(), heapUsed: main.heapUsed, external, arrayBuffers };
      process.stdout.write(
        `${JSON.stringify({ ...record, threadsHeapUsed, heapsPhysical, threads: threads.length })}\n`,
      );
    });
  }, 30_000).unref();
}

if (isMainThread) probe();
else answerRounds();
