import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { healthSweepWorkflow, type HealthSweepInput } from '../../temporal/contracts/health.ts';
import {
  backupWatchdogWorkflow,
  deliverNotificationsWorkflow,
  deliveryStateQuery,
  wakeDeliverySignal,
  type BackupWatchdogInput,
} from '../../temporal/contracts/notifications.ts';
import { activityFailure, type FakeActivities, held, recording } from './fakes.ts';
import { eventually, failureOf } from './runs.ts';
import { test, timeSkippingPlatform } from './support.ts';

/**
 * What watches and tells: the health sweep, the per-scope notification delivery loop, and the
 * watchdog that queues overdue-backup alerts.
 */
const platform = timeSkippingPlatform();

const names = (n: number, prefix = 'db') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** A sweep whose plans answer these batches, one plan a look, then nothing due. */
function sweepOf(plans: Array<{ batches: string[][]; nextDueInMs: number | null }>, inFlight = { now: 0, most: 0 }) {
  let look = 0;
  return recording({
    planHealthSweep: async () => plans[look++] ?? { batches: [], nextDueInMs: null },
    probeHealthBatch: async ({ databases }) => {
      inFlight.most = Math.max(inFlight.most, ++inFlight.now);
      await new Promise((r) => setTimeout(r, 20));
      inFlight.now -= 1;
      return { probed: databases.length, transitions: 1, notified: 0 };
    },
  });
}

describe('healthSweep with time skipping', () => {
  test('one run checks every due database, one activity per batch, a bounded number at once', async () => {
    const due = names(130);
    const inFlight = { now: 0, most: 0 };
    const fake = sweepOf(
      [{ batches: [due.slice(0, 50), due.slice(50, 100), due.slice(100)], nextDueInMs: null }],
      inFlight,
    );
    const outcome = await platform.execute(fake, healthSweepWorkflow, {
      windowSeconds: 5,
      batchSize: 50,
      concurrency: 2,
    });
    assert.deepEqual(outcome, { probed: 130, batches: 3, transitions: 3, failedBatches: 0 });
    const probed = (fake.named('probeHealthBatch') as Array<{ databases: string[] }>).flatMap((b) => b.databases);
    assert.deepEqual(probed.sort(), [...due].sort(), 'each due database once');
    assert.deepEqual(fake.named('planHealthSweep')[0], { batchSize: 50 });
    assert.equal(inFlight.most, 2, 'two batches at once, never three');
  });

  test('within its window it checks databases again as they come due, and then ends', async () => {
    const fake = sweepOf([
      { batches: [['a', 'b']], nextDueInMs: 3000 },
      { batches: [['a']], nextDueInMs: 60_000 },
      { batches: [['b']], nextDueInMs: 500 },
    ]);
    const outcome = await platform.execute(fake, healthSweepWorkflow, { windowSeconds: 20 });
    assert.equal(outcome.probed, 4);
    // Looks 3 s after the first (when "a" is due), 5 s after the second (at least that often, for
    // new databases), 1 s after the third (never more often): then every 5 s until the window ends.
    const looks = fake.named('planHealthSweep').length;
    assert.ok(looks >= 5 && looks <= 6, `${looks} looks in 20 s`);
  });

  test('a batch that cannot be recorded does not stop the others', async () => {
    const fake = recording({
      planHealthSweep: async () => ({ batches: [['a'], ['b'], ['c']], nextDueInMs: null }),
      probeHealthBatch: async ({ databases }) => {
        if (databases[0] === 'b') throw activityFailure('catalog refused the batch', 'bad_input');
        return { probed: 1, transitions: 0, notified: 0 };
      },
    });
    const outcome = await platform.execute(fake, healthSweepWorkflow, { windowSeconds: 1 });
    assert.deepEqual(outcome, { probed: 2, batches: 3, transitions: 0, failedBatches: 1 });
  });

  test('an input with fields it does not take fails at once', async () => {
    const fake = sweepOf([]);
    const failure = await failureOf(
      platform.execute(fake, healthSweepWorkflow, { database: 'app' } as unknown as HealthSweepInput),
    );
    assert.equal(failure.type, 'bad_input');
    assert.equal(fake.calls.length, 0);
  });
});

const sent = { status: 'sent' as const, response: '200 OK' };

/** A delivery loop whose plans answer these ids, one plan a round, then nothing. */
function deliveryOf(plans: number[][], overrides: FakeActivities = {}) {
  let round = 0;
  return recording({
    planDeliveries: async () => ({ deliveryIds: plans[round++] ?? [] }),
    sendNotification: async () => sent,
    failDelivery: async () => undefined,
    ...overrides,
  });
}
const ids = (inputs: unknown[]) => (inputs as Array<{ deliveryId: number }>).map((i) => i.deliveryId).sort();

describe('deliverNotifications with time skipping', () => {
  test('sends what the plan holds, and plans again when woken', async () => {
    const fake = deliveryOf([[1, 2], [3]]);
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(deliverNotificationsWorkflow, { database: 'app' });
      await eventually(async () => (await handle.query(deliveryStateQuery)).sent === 2, 'the first plan sent');
      await handle.signal(wakeDeliverySignal);
      await eventually(async () => (await handle.query(deliveryStateQuery)).sent === 3, 'the woken plan sent');
      const state = await handle.query(deliveryStateQuery);
      assert.deepEqual([state.database, state.failed, state.inFlight], ['app', 0, []]);
    });
    assert.deepEqual(fake.named('planDeliveries'), [{ database: 'app' }, { database: 'app' }]);
    assert.deepEqual(ids(fake.named('sendNotification')), [1, 2, 3]);
  });

  test('without a wake-up the scope is swept every ten minutes', async () => {
    const fake = deliveryOf([[], [], [7]]);
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(deliverNotificationsWorkflow, { database: null });
      await platform.env.sleep('25 minutes');
      await eventually(async () => (await handle.query(deliveryStateQuery)).sent === 1, 'the swept delivery sent');
    });
    assert.equal(fake.named('planDeliveries').length, 3);
    assert.deepEqual(fake.named('planDeliveries')[0], { database: null });
    assert.deepEqual(ids(fake.named('sendNotification')), [7]);
  });

  test('a receiver that stays down is recorded failed after five tries; a refusal after one', async () => {
    const fake = deliveryOf([[1, 2]], {
      sendNotification: async (input) => {
        if (input.deliveryId === 1) throw activityFailure('webhook answered 503', 'unreachable');
        throw activityFailure('Slack refused the token', 'access_denied');
      },
    });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(deliverNotificationsWorkflow, { database: 'app' });
      // 1 + 3 + 9 + 27 s of back-off pass on the server's clock.
      await platform.env.sleep('2 minutes');
      await eventually(async () => (await handle.query(deliveryStateQuery)).failed === 2, 'both deliveries failed');
    });
    const tries = fake.named('sendNotification') as Array<{ deliveryId: number }>;
    assert.deepEqual(
      [tries.filter((t) => t.deliveryId === 1).length, tries.filter((t) => t.deliveryId === 2).length],
      [5, 1],
    );
    const failed = (fake.named('failDelivery') as Array<{ deliveryId: number; error: string }>).sort(
      (a, b) => a.deliveryId - b.deliveryId,
    );
    assert.deepEqual(failed, [
      { deliveryId: 1, error: 'webhook answered 503' },
      { deliveryId: 2, error: 'Slack refused the token' },
    ]);
  });

  test('a delivery still in flight is not sent a second time when a new plan lists it', async () => {
    const sending = held(sent);
    const fake = deliveryOf([[1], [1]], { sendNotification: sending.fake });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(deliverNotificationsWorkflow, { database: 'app' });
      await sending.started;
      await handle.signal(wakeDeliverySignal);
      await eventually(() => fake.named('planDeliveries').length === 2, 'the second plan');
      assert.deepEqual((await handle.query(deliveryStateQuery)).inFlight, [1]);
      sending.release();
      await eventually(async () => (await handle.query(deliveryStateQuery)).sent === 1, 'the delivery sent');
    });
    assert.deepEqual(ids(fake.named('sendNotification')), [1]);
  });
});

describe('backupWatchdog with time skipping', () => {
  test('queues the overdue-backup alerts and reports them', async () => {
    const outcome = { queued: ['app'], overdue: ['app', 'old'], swept: [null] };
    const fake = recording({ checkOverdueBackups: async () => outcome });
    assert.deepEqual(await platform.execute(fake, backupWatchdogWorkflow, {}), outcome);
    assert.equal(fake.named('checkOverdueBackups').length, 1);
  });

  test('an input with fields it does not take fails at once', async () => {
    const fake = recording({ checkOverdueBackups: async () => ({ queued: [], overdue: [], swept: [] }) });
    const failure = await failureOf(
      platform.execute(fake, backupWatchdogWorkflow, { database: 'app' } as unknown as BackupWatchdogInput),
    );
    assert.equal(failure.type, 'bad_input');
    assert.ok(failure.message.startsWith(`invalid ${backupWatchdogWorkflow.type} input`), failure.message);
    assert.equal(fake.calls.length, 0);
  });
});
