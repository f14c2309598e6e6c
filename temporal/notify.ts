import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import {
  WATCHDOG_SCHEDULE_ID, deliveryWorkflowId, wakeDeliverySignal, type BackupWatchdogInput, type DeliverNotificationsInput,
} from './notify-messages.ts';
import { databaseAttribute, kindAttribute } from './search-attributes.ts';

/** Starts the scope's delivery workflow if it is not running, and wakes it. */
export async function wakeDelivery(client: Client, taskQueue: string, database: string | null): Promise<void> {
  const input: DeliverNotificationsInput = { database };
  await client.workflow.signalWithStart('deliverNotifications', {
    workflowId: deliveryWorkflowId(database),
    taskQueue,
    args: [input],
    signal: wakeDeliverySignal,
    signalArgs: [],
    typedSearchAttributes: new TypedSearchAttributes([
      ...(database ? [{ key: databaseAttribute, value: database }] : []),
      { key: kindAttribute, value: 'notify' },
    ]),
  });
}

/** How often the overdue-backup watchdog looks: an alert comes at most this late. */
export const WATCHDOG_EVERY = '10 minutes' as const;

/** The one schedule that runs `backupWatchdog` (overlap SKIP: a slow run is never doubled). */
export async function upsertWatchdogSchedule(client: Client, taskQueue: string): Promise<void> {
  const input: BackupWatchdogInput = {};
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'backupWatchdog',
    taskQueue,
    workflowId: `${WATCHDOG_SCHEDULE_ID}/scheduled`,
    args: [input],
    typedSearchAttributes: new TypedSearchAttributes([{ key: kindAttribute, value: 'watchdog' }]),
  };
  const spec = { intervals: [{ every: WATCHDOG_EVERY }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' as const };
  try {
    await client.schedule.getHandle(WATCHDOG_SCHEDULE_ID).update((previous) => ({ ...previous, spec, action, policies }));
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    await client.schedule.create({ scheduleId: WATCHDOG_SCHEDULE_ID, spec, action, policies });
  }
}
