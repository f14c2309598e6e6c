/** Where one backup's time went, read from its Temporal history. */
import type { Platform } from '../../test/support/platform.ts';

export interface TimeStamp {
  seconds?: unknown;
  nanos?: number | null;
}
export const stampMs = (ts: TimeStamp | null | undefined): number =>
  ts ? Number(String(ts.seconds ?? 0)) * 1000 + (ts.nanos ?? 0) / 1e6 : NaN;

/** Where one backup's time went, from its Temporal history: task queues (waiting for a worker slot) and work. */
export interface Breakdown {
  workflowTasks: number;
  workflowTaskQueueSeconds: number;
  workflowTaskRunSeconds: number;
  firstWorkflowTaskQueueSeconds: number;
  activities: number;
  activityQueueSeconds: number;
  activityRunSeconds: number;
  firstActivityQueueSeconds: number;
  dumpQueueSeconds: number | null;
  dumpRunSeconds: number | null;
  retries: number;
}

export async function historyBreakdown(platform: Platform, workflowId: string): Promise<Breakdown | null> {
  const history = await platform.env.client.workflow
    .getHandle(workflowId)
    .fetchHistory()
    .catch(() => null);
  if (!history?.events) return null;
  const byId = new Map<
    string,
    { kind: 'wft' | 'activity'; name: string; scheduled: number; started?: number; ended?: number; attempt?: number }
  >();
  for (const e of history.events) {
    const at = stampMs(e.eventTime);
    if (e.workflowTaskScheduledEventAttributes)
      byId.set(String(e.eventId), { kind: 'wft', name: 'wft', scheduled: at });
    else if (e.activityTaskScheduledEventAttributes)
      byId.set(String(e.eventId), {
        kind: 'activity',
        name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
        scheduled: at,
      });
    const started = e.workflowTaskStartedEventAttributes ?? e.activityTaskStartedEventAttributes;
    if (started) {
      const task = byId.get(String(started.scheduledEventId));
      if (task) {
        task.started = at;
        task.attempt = e.activityTaskStartedEventAttributes?.attempt ?? 1;
      }
    }
    const ended =
      e.workflowTaskCompletedEventAttributes ??
      e.workflowTaskFailedEventAttributes ??
      e.workflowTaskTimedOutEventAttributes ??
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (ended) {
      const task = byId.get(String(ended.scheduledEventId));
      if (task) task.ended = at;
    }
  }
  const tasks = [...byId.values()].filter((t) => t.started !== undefined && t.ended !== undefined);
  const wfts = tasks.filter((t) => t.kind === 'wft');
  const acts = tasks.filter((t) => t.kind === 'activity');
  const sum = (list: typeof tasks, pick: (t: (typeof tasks)[number]) => number) =>
    list.reduce((s, t) => s + pick(t), 0) / 1000;
  const dump = acts.find((t) => t.name === 'dumpDatabaseToStorage');
  return {
    workflowTasks: wfts.length,
    workflowTaskQueueSeconds: sum(wfts, (t) => t.started! - t.scheduled),
    workflowTaskRunSeconds: sum(wfts, (t) => t.ended! - t.started!),
    firstWorkflowTaskQueueSeconds: wfts.length ? (wfts[0]!.started! - wfts[0]!.scheduled) / 1000 : NaN,
    activities: acts.length,
    // A retried activity's started event carries its last attempt only: the queue time includes the backoff.
    activityQueueSeconds: sum(acts, (t) => t.started! - t.scheduled),
    activityRunSeconds: sum(acts, (t) => t.ended! - t.started!),
    firstActivityQueueSeconds: acts.length ? (acts[0]!.started! - acts[0]!.scheduled) / 1000 : NaN,
    dumpQueueSeconds: dump ? (dump.started! - dump.scheduled) / 1000 : null,
    dumpRunSeconds: dump ? (dump.ended! - dump.started!) / 1000 : null,
    retries: acts.reduce((s, t) => s + Math.max(0, (t.attempt ?? 1) - 1), 0),
  };
}
