import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyProbe,
  inBatches,
  initialHealthState,
  selectDue,
  TRANSITIONS_KEPT,
  type HealthState,
  type ProbeResult,
} from '../../lib/catalog/health-rules.ts';

const up: ProbeResult = { ok: true, latencyMs: 2 };
const refused: ProbeResult = { ok: false, error: 'connection refused' };
const t0 = Date.parse('2026-12-01T10:00:00.000Z');
const minute = (n: number) => new Date(t0 + n * 60_000);

/** Feeds the probes one a minute to a fresh state; what was recorded and notified. */
function run(probes: ProbeResult[], threshold: number, start: HealthState = initialHealthState('app')) {
  let state = start;
  const transitions: string[] = [];
  const notices: Array<{ event: string; message: string; dedupeKey: string }> = [];
  probes.forEach((probe, i) => {
    const outcome = applyProbe(state, probe, threshold, minute(i));
    state = outcome.state;
    if (outcome.transition) transitions.push(outcome.transition.status);
    if (outcome.notice) notices.push(outcome.notice);
  });
  return { state, transitions, notices };
}

describe('health transitions', () => {
  it('goes down only after N failures in a row, and up after one success, notifying each once', () => {
    const { state, transitions, notices } = run([up, refused, refused, up, refused, refused, refused, refused, up], 3);
    assert.deepEqual(transitions, ['up', 'down', 'up']);
    assert.deepEqual(
      notices.map((n) => n.event),
      ['database_down', 'database_up'],
      'the first "up" only establishes the state',
    );
    assert.match(
      notices[0]!.message,
      /^database "app" is down: 3 connection checks failed in a row \(connection refused\)$/,
    );
    assert.equal(notices[1]!.message, 'database "app" is up again');
    assert.notEqual(notices[0]!.dedupeKey, notices[1]!.dedupeKey);
    assert.deepEqual(
      [state.status, state.consecutiveFailures, state.lastError, state.since],
      ['up', 0, null, minute(8).toISOString()],
    );
    assert.deepEqual(
      state.transitions.map((t) => [t.status, t.at]),
      [
        ['up', minute(8).toISOString()],
        ['down', minute(6).toISOString()],
        ['up', minute(0).toISOString()],
      ],
      'newest first, with when they happened',
    );
  });

  it('a database that never answers is notified down once, however long it stays down', () => {
    const { state, transitions, notices } = run(
      Array.from({ length: 10 }, () => refused),
      2,
    );
    assert.deepEqual(transitions, ['down']);
    assert.equal(notices.length, 1);
    assert.match(notices[0]!.message, /2 connection checks failed in a row/);
    assert.equal(state.consecutiveFailures, 10);
    assert.equal(state.lastError, 'connection refused');
    assert.equal(state.since, minute(1).toISOString(), 'down since the threshold was reached');
  });

  it('failures below the threshold change only the count', () => {
    const { state, transitions } = run([up, refused, refused], 3);
    assert.deepEqual(transitions, ['up']);
    assert.deepEqual([state.status, state.consecutiveFailures, state.lastProbeAt], ['up', 2, minute(2).toISOString()]);
  });

  it('a state carried over as down notifies the recovery', () => {
    const carried = { ...initialHealthState('old'), status: 'down' as const, consecutiveFailures: 7 };
    const { notices } = run([up], 3, carried);
    assert.deepEqual(
      notices.map((n) => n.event),
      ['database_up'],
    );
  });

  it('keeps the recent transitions only', () => {
    const flapping = Array.from({ length: 2 * TRANSITIONS_KEPT }, (_, i) => (i % 2 ? refused : up));
    const { state, transitions } = run(flapping, 1);
    assert.equal(transitions.length, 2 * TRANSITIONS_KEPT);
    assert.equal(state.transitions.length, TRANSITIONS_KEPT);
  });
});

describe('which databases are due', () => {
  const now = minute(10);
  const at = (seconds: number) => new Date(now.getTime() - seconds * 1000);

  it('never checked first, then the longest overdue; the rest tell when the next is due', () => {
    const selection = selectDue(
      [
        { database: 'fresh', intervalSeconds: 60, lastProbeAt: at(10) },
        { database: 'late', intervalSeconds: 60, lastProbeAt: at(600) },
        { database: 'new', intervalSeconds: 3600, lastProbeAt: null },
        { database: 'just', intervalSeconds: 60, lastProbeAt: at(60) },
        { database: 'hourly', intervalSeconds: 3600, lastProbeAt: at(3590) },
      ],
      now,
    );
    assert.deepEqual(selection.due, ['new', 'late', 'just']);
    assert.equal(selection.nextDueInMs, 10_000, 'hourly comes due in ten seconds, before fresh in fifty');
  });

  it('with every database due or none registered, there is no next time', () => {
    assert.deepEqual(selectDue([], now), { due: [], nextDueInMs: null });
    assert.deepEqual(selectDue([{ database: 'a', intervalSeconds: 1, lastProbeAt: null }], now), {
      due: ['a'],
      nextDueInMs: null,
    });
  });

  it('ten thousand databases are selected and split into batches of 200', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({
      database: `db${i}`,
      intervalSeconds: 60,
      lastProbeAt: at(i % 120),
    }));
    const { due, nextDueInMs } = selectDue(many, now);
    const checkedAMinuteAgo = many.filter((s) => now.getTime() - s.lastProbeAt.getTime() >= 60_000);
    assert.equal(due.length, checkedAMinuteAgo.length, 'those checked 60 s ago or more');
    assert.equal(due.length, 83 * 60);
    assert.equal(nextDueInMs, 1000);
    const batches = inBatches(due, 200);
    assert.equal(batches.length, Math.ceil(due.length / 200));
    assert.ok(batches.every((b) => b.length <= 200));
    assert.deepEqual(batches.flat(), due);
  });

  it('a batch size that is not a positive integer is refused', () => {
    assert.throws(() => inBatches([1], 0), /batch size must be a positive integer, not 0/);
  });
});
