import { CancellationScope, setHandler, type QueryDefinition, type SignalDefinition } from '@temporalio/workflow';

/**
 * Answers the workflow's `progress` query with `progress`, and folds into it the reports its long
 * activity signals while `live` holds: a report that arrives after the stage moved on is dropped.
 */
export function publishProgress<P, R>(
  progress: P,
  query: QueryDefinition<P>,
  signal: SignalDefinition<[R]>,
  live: (progress: P) => boolean,
  fold: (progress: P, report: R) => void,
): P {
  setHandler(query, () => progress);
  setHandler(signal, (report) => {
    if (live(progress)) fold(progress, report);
  });
  return progress;
}

/** The scope of a job's work, which its cancel or abort signal cancels, and why it was stopped. */
export interface StoppableWork {
  scope: CancellationScope;
  /** `<verb> by request`, or `<verb>: <reason>` with the reason the last signal gave. */
  reason(): string;
}

export function stoppableWork(
  signal: SignalDefinition<[reason?: string]>,
  verb: 'cancelled' | 'aborted',
): StoppableWork {
  const scope = new CancellationScope();
  let reason = `${verb} by request`;
  setHandler(signal, (given) => {
    if (given) reason = `${verb}: ${given}`;
    scope.cancel();
  });
  return { scope, reason: () => reason };
}
