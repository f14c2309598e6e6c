import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import {
  HEALTH_SWEEP_EVERY_MS,
  healthSweepInput,
  healthSweepWorkflow,
  type HealthSweepInput,
  type HealthSweepOutcome,
} from '../temporal/contracts/health.ts';
import { catalogActivities as quick, permanentErrorTypes } from './activity-options.ts';
import { parseInput } from './validate.ts';

/**
 * A batch of connection checks: PROBES_AT_ONCE at a time (activities/health.ts), each up to ten
 * seconds against a server that does not answer, so a batch of 200 silent servers takes 80 s.
 */
const batchActivities = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 3,
    nonRetryableErrorTypes: permanentErrorTypes,
  },
});

/** Between looks for databases due, however soon the next one is: new databases are picked up this fast. */
const LOOK_AT_MOST_EVERY_MS = 1000;
const LOOK_AT_LEAST_EVERY_MS = 5000;

/**
 * One run of the health schedule: for its window, checks the databases as they come due, in
 * batches, with at most `concurrency` batches at once, one activity per batch that checks and
 * records. The state lives in the catalog, so the run is short and nothing is kept per database.
 */
export async function healthSweep(raw: HealthSweepInput = {}): Promise<HealthSweepOutcome> {
  const input = parseInput(healthSweepWorkflow.type, healthSweepInput, raw);
  const deadline = sweepDeadline(Date.now(), input.windowSeconds);
  const outcome: HealthSweepOutcome = { probed: 0, batches: 0, transitions: 0, failedBatches: 0 };
  for (;;) {
    const plan = await quick.planHealthSweep({ batchSize: input.batchSize });
    await probeBatches(plan.batches, input.concurrency, outcome);
    const left = deadline - Date.now();
    if (left <= 0) return outcome;
    const wait = Math.max(LOOK_AT_MOST_EVERY_MS, Math.min(plan.nextDueInMs ?? Infinity, LOOK_AT_LEAST_EVERY_MS));
    if (wait >= left) return outcome;
    await sleep(wait);
  }
}

/** The schedule's runs start on whole minutes: a run ends this long before the next one is due. */
const ENDS_BEFORE_NEXT_RUN_MS = 2000;

function sweepDeadline(now: number, windowSeconds: number | undefined): number {
  if (windowSeconds !== undefined) return now + windowSeconds * 1000;
  return Math.ceil((now + 1) / HEALTH_SWEEP_EVERY_MS) * HEALTH_SWEEP_EVERY_MS - ENDS_BEFORE_NEXT_RUN_MS;
}

async function probeBatches(batches: string[][], concurrency: number, outcome: HealthSweepOutcome): Promise<void> {
  const queue = [...batches];
  const lane = async () => {
    for (let databases = queue.shift(); databases !== undefined; databases = queue.shift()) {
      // One batch that cannot be recorded does not hold back the others.
      const done = await batchActivities.probeHealthBatch({ databases }).catch(() => undefined);
      outcome.batches += 1;
      if (!done) {
        outcome.failedBatches += 1;
        continue;
      }
      outcome.probed += done.probed;
      outcome.transitions += done.transitions;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, lane));
}
