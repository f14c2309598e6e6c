import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import {
  deliverNotificationsInput,
  deliverNotificationsWorkflow,
  deliveryStateQuery,
  wakeDeliverySignal,
  type DeliverNotificationsInput,
  type DeliveryState,
} from '../temporal/contracts/notifications.ts';
import { catalogActivities, permanentErrorTypes } from './activity-options.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;

/**
 * One send is one attempt; five attempts, 1 s apart growing threefold (1 + 3 + 9 + 27 s of
 * backoff), so a receiver that is down costs at most about two minutes before the delivery is
 * recorded failed. A refusal (bad token, deleted webhook) is permanent and not retried.
 */
export const SEND_RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 3,
  maximumInterval: '30 seconds',
  maximumAttempts: 5,
  nonRetryableErrorTypes: permanentErrorTypes,
} as const;

const send = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: SEND_RETRY });

/** Without a wake-up the scope is swept this often anyway. */
const SWEEP_INTERVAL = '10 minutes';
const ROUNDS_PER_HISTORY = 200;

/**
 * One per database (`notify/<db>`, `notify/@workspace`), started and woken by signal-with-start
 * whenever something is queued. Each round plans the scope's undelivered notifications and sends
 * every pending delivery in parallel, each with bounded retries; a notifier that is down delays
 * only its own deliveries.
 */
export async function deliverNotifications(raw: DeliverNotificationsInput): Promise<void> {
  const input = parseInput(deliverNotificationsWorkflow.type, deliverNotificationsInput, raw);
  let woken = true;
  const inFlight = new Set<number>();
  const state: DeliveryState = { database: input.database, inFlight: [], sent: 0, failed: 0, lastPlannedAt: null };
  setHandler(wakeDeliverySignal, () => {
    woken = true;
  });
  setHandler(deliveryStateQuery, () => ({ ...state, inFlight: [...inFlight] }));

  const deliver = async (deliveryId: number) => {
    try {
      await send.sendNotification({ deliveryId });
      state.sent += 1;
    } catch (error) {
      state.failed += 1;
      try {
        await quick.failDelivery({ deliveryId, error: rootMessage(error) });
      } catch {
        // The delivery stays pending and the next round tries it again.
      }
    } finally {
      inFlight.delete(deliveryId);
    }
  };

  for (let round = 0; round < ROUNDS_PER_HISTORY; round++) {
    if (!woken) await condition(() => woken, SWEEP_INTERVAL);
    woken = false;
    const { deliveryIds } = await quick.planDeliveries({ database: input.database });
    state.lastPlannedAt = new Date().toISOString();
    for (const id of deliveryIds) {
      if (inFlight.has(id)) continue;
      inFlight.add(id);
      void deliver(id);
    }
    if (workflowInfo().continueAsNewSuggested) break;
  }
  // A fresh history starts with nothing in flight; a wake-up that arrives meanwhile is kept by `woken`.
  await condition(() => inFlight.size === 0 && allHandlersFinished());
  await continueAsNew<typeof deliverNotifications>({ database: input.database });
}
