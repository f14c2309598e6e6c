import { Context } from '@temporalio/activity';
import type { Logger } from '../lib/logger.ts';
import { PROGRESS_SIGNAL, type ProgressSignalName } from '../temporal/contracts/common.ts';

/** Lets a long activity show its bytes in its workflow's `progress` query. */
export interface ProgressSink {
  send(workflowId: string, runId: string, signal: ProgressSignalName, report: object): Promise<void>;
}

/**
 * One activity execution's progress: every report is a heartbeat; the workflow is signalled at
 * most every `everyMs` (at once when the report's `state` changes), and a lost signal never fails
 * the activity. The activity interceptor (interceptor.ts) makes one per execution.
 */
export class ProgressReporter {
  readonly #ctx: Context;
  readonly #sink: ProgressSink | undefined;
  readonly #logger: Logger | undefined;
  #last = 0;
  #lastState: unknown;

  constructor(ctx: Context, sink?: ProgressSink, logger?: Logger) {
    this.#ctx = ctx;
    this.#sink = sink;
    this.#logger = logger;
  }

  report(report: object, everyMs: number): void {
    this.#ctx.heartbeat(report);
    const now = Date.now();
    const execution = this.#ctx.info.workflowExecution;
    const state = (report as { state?: unknown }).state;
    if (!this.#sink || !execution || (now - this.#last < everyMs && state === this.#lastState)) return;
    this.#last = now;
    this.#lastState = state;
    this.#sink
      .send(execution.workflowId, execution.runId, PROGRESS_SIGNAL, report)
      .catch((error: unknown) => this.#logger?.debug({ err: error }, 'progress signal not delivered'));
  }
}

const reporters = new WeakMap<Context, ProgressReporter>();

/** Called by the interceptor around each execution. */
export function attachProgressReporter(ctx: Context, reporter: ProgressReporter): void {
  reporters.set(ctx, reporter);
}

/**
 * The current execution's progress reporter. Outside a worker with the interceptor (an activity
 * run alone in a test), reports are heartbeats only.
 */
export function progressReporter(everyMs = 2000): (report: object) => void {
  const ctx = Context.current();
  let reporter = reporters.get(ctx);
  if (!reporter) {
    reporter = new ProgressReporter(ctx);
    reporters.set(ctx, reporter);
  }
  const chosen = reporter;
  return (report) => chosen.report(report, everyMs);
}

/** Heartbeats every `everyMs` while `work` runs, so that a silent step does not look like a lost worker. */
export async function heartbeatWhile<T>(everyMs: number, work: () => Promise<T>, details?: () => unknown): Promise<T> {
  const ctx = Context.current();
  const beat = setInterval(() => (details ? ctx.heartbeat(details()) : ctx.heartbeat()), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(beat);
  }
}
