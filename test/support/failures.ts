/** The message of the innermost cause: the words a failure started with, under every wrapper. */
export function innermostMessage(error: unknown): string {
  let current = error as { message?: string; cause?: unknown } | undefined;
  let message = '';
  while (current) {
    message = current.message ?? message;
    current = current.cause as typeof current;
  }
  return message;
}

interface HistorySource {
  workflow: {
    getHandle(id: string): {
      fetchHistory(): Promise<{
        events?: Array<{ activityTaskStartedEventAttributes?: { attempt?: number | null } | null }> | null;
      }>;
    };
  };
}

/**
 * The attempt numbers of every activity a workflow started, read from its history. "Not retried"
 * is asserted on these rather than on elapsed time, which a loaded machine stretches.
 */
export async function activityAttempts(client: HistorySource, workflowId: string): Promise<number[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((event) =>
    event.activityTaskStartedEventAttributes ? [event.activityTaskStartedEventAttributes.attempt ?? 1] : [],
  );
}

/** Asserts that a workflow started at least one activity and none of them was retried. */
export async function assertRanOnce(client: HistorySource, workflowId: string, why: string): Promise<void> {
  const attempts = await activityAttempts(client, workflowId);
  if (attempts.length === 0) throw new Error(`${why}: the workflow ${workflowId} started no activity`);
  const retried = attempts.filter((attempt) => attempt > 1);
  if (retried.length > 0) throw new Error(`${why}: an activity of ${workflowId} ran ${Math.max(...retried)} times`);
}
