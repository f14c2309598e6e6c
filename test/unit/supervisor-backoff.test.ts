/**
 * The restart backoff of `npm start`'s supervisor: quick crashes double the wait up to its cap, a
 * long run starts a new streak, and a streak of quick crashes is given up.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RestartTracker, defaultRestartPolicy, type RestartPolicy } from '../../lib/supervisor/backoff.ts';

const policy: RestartPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 5_000,
  factor: 2,
  quickRunMs: 30_000,
  maxQuickCrashes: 6,
};

describe('restart backoff', () => {
  it('doubles the wait after each quick crash, up to its cap', () => {
    const tracker = new RestartTracker(policy);
    const delays = [1, 2, 3, 4, 5].map(() => {
      const decision = tracker.crashed(100);
      assert.ok(decision.restart);
      return decision.delayMs;
    });
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 5_000, 5_000]);
  });

  it('gives up at the streak of quick crashes the policy allows, saying how many', () => {
    const tracker = new RestartTracker(policy);
    for (let i = 1; i < policy.maxQuickCrashes; i++) assert.equal(tracker.crashed(0).restart, true);
    assert.deepEqual(tracker.crashed(0), { restart: false, quickCrashes: policy.maxQuickCrashes });
  });

  it('starts a new streak after a run longer than a quick one', () => {
    const tracker = new RestartTracker(policy);
    for (let i = 1; i < policy.maxQuickCrashes; i++) tracker.crashed(10);
    assert.deepEqual(tracker.crashed(policy.quickRunMs), { restart: true, delayMs: 1_000, quickCrashes: 1 });
    assert.deepEqual(tracker.crashed(10), { restart: true, delayMs: 2_000, quickCrashes: 2 });
  });

  it('gives up on the default policy after five quick crashes in a row', () => {
    const tracker = new RestartTracker();
    const decisions = [1, 2, 3, 4, 5].map(() => tracker.crashed(1_000));
    assert.deepEqual(
      decisions.map((d) => (d.restart ? d.delayMs : 'give up')),
      [1_000, 2_000, 4_000, 8_000, 'give up'],
    );
    assert.equal(defaultRestartPolicy.maxQuickCrashes, 5);
  });

  it('refuses a policy whose cap is below its first delay', () => {
    assert.throws(
      () => new RestartTracker({ ...policy, maxDelayMs: 10 }),
      /maxDelayMs must be at least initialDelayMs/,
    );
  });
});
