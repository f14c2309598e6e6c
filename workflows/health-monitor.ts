import { continueAsNew, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import {
  healthMonitorInput,
  healthMonitorWorkflow,
  uptimeQuery,
  type HealthMonitorInput,
  type HealthState,
} from '../temporal/contracts/health.ts';
import { catalogActivities } from './activity-options.ts';
import { parseInput } from './validate.ts';

const quick = catalogActivities;

const PROBES_PER_HISTORY = 500;
const TRANSITIONS_KEPT = 50;

/**
 * One per database (`health/<db>`): a connection check at the database's interval. It is marked
 * down only after N consecutive failures and up again after one success; each transition is
 * recorded and notified once, never on every failed probe.
 */
export async function healthMonitor(raw: HealthMonitorInput): Promise<void> {
  const input = parseInput(healthMonitorWorkflow.type, healthMonitorInput, raw);
  const state: HealthState = {
    database: input.database,
    status: input.carried?.status ?? 'unknown',
    since: input.carried?.since ?? null,
    consecutiveFailures: input.carried?.consecutiveFailures ?? 0,
    lastProbeAt: null,
    lastError: null,
    transitions: [],
  };
  setHandler(uptimeQuery, () => state);

  const transition = async (status: 'up' | 'down', detail: string | null) => {
    const previous = state.status;
    const at = new Date().toISOString();
    state.status = status;
    state.since = at;
    state.transitions = [{ status, at, detail }, ...state.transitions].slice(0, TRANSITIONS_KEPT);
    await quick.recordHealthTransition({ database: input.database, status, detail });
    // The first probe only establishes the state: there is nothing to tell anyone yet.
    if (previous === 'unknown' && status === 'up') return;
    await quick.notify({
      database: input.database,
      event: status === 'down' ? 'database_down' : 'database_up',
      message:
        status === 'down'
          ? `database "${input.database}" is down: ${state.consecutiveFailures} connection checks failed in a row (${detail ?? 'no detail'})`
          : `database "${input.database}" is up again`,
      // The same transition is never notified twice, even when the activity is retried.
      dedupeKey: `health:${input.database}:${status}:${at}`,
    });
  };

  for (let probes = 0; probes < PROBES_PER_HISTORY; probes++) {
    const settings = await quick.healthSettings({ database: input.database });
    if (!settings.registered) return;
    const result = await quick.probeHealth({ database: input.database });
    state.lastProbeAt = new Date().toISOString();
    if (result.ok) {
      state.consecutiveFailures = 0;
      state.lastError = null;
      if (state.status !== 'up') await transition('up', null);
    } else {
      state.consecutiveFailures += 1;
      state.lastError = result.error;
      if (state.status !== 'down' && state.consecutiveFailures >= settings.failureThreshold)
        await transition('down', result.error);
    }
    await sleep(settings.intervalSeconds * 1000);
    if (workflowInfo().continueAsNewSuggested) break;
  }
  await continueAsNew<typeof healthMonitor>({
    database: input.database,
    carried: { status: state.status, since: state.since, consecutiveFailures: state.consecutiveFailures },
  });
}
