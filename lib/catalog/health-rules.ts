/**
 * The health rules as pure functions, so that the batch sweep (activities/health.ts) and its unit
 * tests share them: which databases are due for a connection check, and what one check's result
 * does to a database's state. A database is marked down only after N consecutive failures and up
 * again after one success; each transition is recorded and notified once, never per failed probe.
 */

export type HealthStatus = 'unknown' | 'up' | 'down';

export interface HealthTransition {
  status: 'up' | 'down';
  at: string;
  detail: string | null;
}

export interface HealthState {
  database: string;
  status: HealthStatus;
  /** When the current status began. */
  since: string | null;
  consecutiveFailures: number;
  lastProbeAt: string | null;
  lastError: string | null;
  /** Newest first, at most TRANSITIONS_KEPT. */
  transitions: HealthTransition[];
}

export type ProbeResult = { ok: true; latencyMs: number } | { ok: false; error: string };

/** The recent transitions a state carries; the full history stays in `health_events`. */
export const TRANSITIONS_KEPT = 50;

export interface HealthNotice {
  event: 'database_down' | 'database_up';
  message: string;
  /** The same transition is never notified twice, even when the recording is retried. */
  dedupeKey: string;
}

export interface ProbeOutcome {
  state: HealthState;
  transition: HealthTransition | null;
  notice: HealthNotice | null;
}

export const initialHealthState = (database: string): HealthState => ({
  database,
  status: 'unknown',
  since: null,
  consecutiveFailures: 0,
  lastProbeAt: null,
  lastError: null,
  transitions: [],
});

/** What one connection check at `at` does to a database's state, with `failureThreshold` failures to go down. */
export function applyProbe(
  previous: HealthState,
  probe: ProbeResult,
  failureThreshold: number,
  at: Date,
): ProbeOutcome {
  const stamp = at.toISOString();
  const probed = { ...previous, lastProbeAt: stamp };
  const next: HealthState = probe.ok
    ? { ...probed, consecutiveFailures: 0, lastError: null }
    : { ...probed, consecutiveFailures: previous.consecutiveFailures + 1, lastError: probe.error };
  const target = probe.ok ? 'up' : next.consecutiveFailures >= failureThreshold ? 'down' : null;
  if (target === null || target === previous.status) return { state: next, transition: null, notice: null };
  const transition: HealthTransition = { status: target, at: stamp, detail: probe.ok ? null : probe.error };
  const state: HealthState = {
    ...next,
    status: target,
    since: stamp,
    transitions: [transition, ...previous.transitions].slice(0, TRANSITIONS_KEPT),
  };
  // The first probe only establishes the state: there is nothing to tell anyone yet.
  if (previous.status === 'unknown' && target === 'up') return { state, transition, notice: null };
  return { state, transition, notice: noticeOf(state, transition) };
}

function noticeOf(state: HealthState, transition: HealthTransition): HealthNotice {
  const { database } = state;
  return {
    event: transition.status === 'down' ? 'database_down' : 'database_up',
    message:
      transition.status === 'down'
        ? `database "${database}" is down: ${state.consecutiveFailures} connection checks failed in a row (${transition.detail ?? 'no detail'})`
        : `database "${database}" is up again`,
    dedupeKey: `health:${database}:${transition.status}:${transition.at}`,
  };
}

export interface ProbeSchedule {
  database: string;
  intervalSeconds: number;
  lastProbeAt: Date | null;
}

export interface DueSelection {
  /** Never probed first, then the longest overdue. */
  due: string[];
  /** Until the next database not due now comes due; null when every database is due (or there are none). */
  nextDueInMs: number | null;
}

/** The databases whose interval has passed since their last check at `now`, and when the next one will. */
export function selectDue(schedules: ProbeSchedule[], now: Date): DueSelection {
  const dueAt = (s: ProbeSchedule) => (s.lastProbeAt ? s.lastProbeAt.getTime() + s.intervalSeconds * 1000 : -Infinity);
  const due = schedules.filter((s) => dueAt(s) <= now.getTime()).sort((a, b) => dueAt(a) - dueAt(b));
  // A loop, not Math.min(...): ten thousand arguments are too many for one call on some engines.
  let next = Infinity;
  for (const s of schedules) if (dueAt(s) > now.getTime()) next = Math.min(next, dueAt(s));
  return { due: due.map((s) => s.database), nextDueInMs: next === Infinity ? null : next - now.getTime() };
}

/** `items` in consecutive batches of at most `size`. */
export function inBatches<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, not ${size}`);
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}
