/**
 * The data plane's side of the port: it takes jobs, runs several at once, forwards their progress
 * and answers each with its result or its error. A cancel aborts the job's signal, which kills its
 * pg_dump and aborts its writes exactly as an inline cancel does; the answer comes after that cleanup.
 */
import type { MessagePort } from 'node:worker_threads';
import {
  fromPlaneSchema,
  parseMessage,
  serializeError,
  toPlaneSchema,
  type DumpJob,
  type FromPlane,
} from './protocol.ts';
import type { DumpRunOptions } from './run-job.ts';
import type { DumpResult } from '../backup/dump.ts';

export type JobRunner = (job: DumpJob, options: DumpRunOptions) => Promise<DumpResult>;

export function serveDataPlane(port: MessagePort, runJob: JobRunner): void {
  const running = new Map<number, AbortController>();
  const send = (message: FromPlane) => port.postMessage(message);

  async function start(jobId: number, job: DumpJob): Promise<void> {
    const controller = new AbortController();
    running.set(jobId, controller);
    try {
      const result = await runJob(job, {
        signal: controller.signal,
        onProgress: (progress) => send({ type: 'progress', jobId, progress }),
      });
      // Checked here too, so that the worker never receives what it would refuse.
      send(parseMessage(fromPlaneSchema, { type: 'done', jobId, result }, 'the data plane'));
    } catch (error) {
      send({ type: 'failed', jobId, error: serializeError(error) });
    } finally {
      running.delete(jobId);
    }
  }

  port.on('message', (raw: unknown) => {
    let message;
    try {
      message = parseMessage(toPlaneSchema, raw, 'the worker');
    } catch (error) {
      // Refused alone: the other jobs running in this plane go on.
      const jobId = (raw as { jobId?: unknown } | null)?.jobId;
      if (typeof jobId === 'number') send({ type: 'failed', jobId, error: serializeError(error) });
      return;
    }
    if (message.type === 'cancel') running.get(message.jobId)?.abort();
    else void start(message.jobId, message.job);
  });
}
