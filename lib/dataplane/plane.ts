/**
 * The worker's data plane: one long-lived thread, started with the worker (or the first backup) and again after it
 * dies, that runs the logical backup data path (pg_dump → hash → encrypt → storages) on its own
 * small heap. The Temporal worker's heap is large (its workflow cache and bundle), and every
 * collection of it used to stall the stream; in the plane, garbage collection walks only what
 * the running dumps hold. Several backups run in the one plane at once; a thread per backup
 * would cost a whole isolate each.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { DumpResult } from '../backup/dump.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { deserializeError, fromPlaneSchema, parseMessage, type DumpJob, type ToPlane } from './protocol.ts';
import type { DumpRunner, DumpRunOptions } from './run-job.ts';

/**
 * A cap, not a reservation: the dumps' own chunks are Buffers outside this heap, and the drivers'
 * SDKs with a few backups' streams use a few tens of MiB. Reaching it ends the thread, which fails
 * the backups running in it (retried) and starts a fresh plane for the next.
 */
export const DATA_PLANE_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 16 };

export interface DataPlaneOptions {
  /** The thread's module; tests give one that serves the same protocol around a job of their own. */
  entry?: URL;
  resourceLimits?: ResourceLimits;
  logger?: Logger;
}

interface PendingJob {
  thread: Worker;
  label: string;
  onProgress: DumpRunOptions['onProgress'];
  settle(error: Error | undefined, result?: DumpResult): void;
}

export class DataPlane implements DumpRunner {
  readonly mode = 'thread';
  readonly #entry: URL;
  readonly #limits: ResourceLimits;
  readonly #logger: Logger | undefined;
  readonly #jobs = new Map<number, PendingJob>();
  #thread: Worker | undefined;
  #nextJobId = 1;
  #starts = 0;
  #closed = false;

  constructor(options: DataPlaneOptions = {}) {
    this.#entry = options.entry ?? new URL('./thread.ts', import.meta.url);
    this.#limits = options.resourceLimits ?? DATA_PLANE_LIMITS;
    this.#logger = options.logger;
  }

  /** How many threads this plane has started: one, plus one after each death. */
  get starts(): number {
    return this.#starts;
  }

  /** The running thread's id, or undefined before the first job and after a death. */
  get threadId(): number | undefined {
    return this.#thread?.threadId;
  }

  run(job: DumpJob, options: DumpRunOptions): Promise<DumpResult> {
    if (this.#closed)
      return Promise.reject(
        new HindsightError('unreachable', `backup ${job.backupId}: the data plane is closed (the worker is stopping)`),
      );
    const thread = this.#ensureThread();
    const jobId = this.#nextJobId++;
    const cancel = () => thread.postMessage({ type: 'cancel', jobId } satisfies ToPlane);
    return new Promise<DumpResult>((resolve, reject) => {
      this.#jobs.set(jobId, {
        thread,
        label: `backup ${job.backupId} of "${job.databaseName}"`,
        onProgress: options.onProgress,
        settle: (error, result) => {
          options.signal.removeEventListener('abort', cancel);
          this.#jobs.delete(jobId);
          if (![...this.#jobs.values()].some((j) => j.thread === thread)) thread.unref();
          if (error) reject(error);
          else resolve(result!);
        },
      });
      options.signal.addEventListener('abort', cancel, { once: true });
      thread.ref();
      // The key moves into the thread (transferred, not copied) and the caller's copy is wiped.
      const bytes = new Uint8Array(job.key.bytes);
      job.key.bytes.fill(0);
      const message: ToPlane = { type: 'dump', jobId, job: { ...job, key: { id: job.key.id, bytes } } };
      thread.postMessage(message, [bytes.buffer]);
      if (options.signal.aborted) cancel();
    });
  }

  /** Starts the thread now, so that no backup's time limit pays for its start (1–2 s on a busy host). */
  warm(): void {
    if (!this.#closed) this.#ensureThread();
  }

  /** Ends the thread; backups still running in it fail as if the worker had stopped. */
  async close(): Promise<void> {
    this.#closed = true;
    const thread = this.#thread;
    this.#thread = undefined;
    if (thread) await thread.terminate();
  }

  #ensureThread(): Worker {
    if (this.#thread) return this.#thread;
    const thread = new Worker(this.#entry, { resourceLimits: this.#limits, name: 'hindsight-data-plane' });
    this.#thread = thread;
    this.#starts += 1;
    let cause = 'it exited';
    thread.on('message', (raw: unknown) => this.#onMessage(raw));
    thread.on('error', (error) => {
      cause = errorMessage(error);
      if (this.#thread === thread) this.#thread = undefined;
    });
    thread.on('exit', (code) => {
      if (this.#thread === thread) this.#thread = undefined;
      const lost = [...this.#jobs.values()].filter((j) => j.thread === thread);
      if (lost.length > 0)
        this.#logger?.warn({ cause, code, backups: lost.length }, 'data plane stopped while backups ran in it');
      for (const job of lost) {
        job.settle(
          new HindsightError(
            'unreachable',
            `${job.label}: the data plane stopped (${cause}, exit code ${code}); the next attempt starts a new one`,
          ),
        );
      }
    });
    thread.unref();
    return thread;
  }

  #onMessage(raw: unknown): void {
    const jobId = (raw as { jobId?: unknown } | null)?.jobId;
    const job = typeof jobId === 'number' ? this.#jobs.get(jobId) : undefined;
    if (!job) return;
    let message;
    try {
      message = parseMessage(fromPlaneSchema, raw, 'the data plane');
    } catch (error) {
      job.settle(error as Error);
      return;
    }
    if (message.type === 'progress') job.onProgress(message.progress);
    else if (message.type === 'done') job.settle(undefined, message.result);
    else job.settle(deserializeError(message.error));
  }
}
