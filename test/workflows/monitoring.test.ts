import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { healthMonitorWorkflow } from '../../temporal/contracts/health.ts';
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
 * What watches and tells: the health monitor, the per-scope notification delivery loop, and the
 * watchdog that queues overdue-backup alerts.
 */
const platform = timeSkippingPlatform();

type Probe = { ok: true; latencyMs: number } | { ok: false; error: string };
const up: Probe = { ok: true, latencyMs: 3 };
const refused: Probe = { ok: false, error: 'connection refused' };

/** A monitor fed these probe results, one an hour, until the database is no longer registered. */
function monitorOf(probes: Probe[], failureThreshold: number) {
  let round = 0;
  return recording({
    healthSettings: async () => ({ registered: round < probes.length, intervalSeconds: 3600, failureThreshold }),
    probeHealth: async () => probes[round++]!,
    recordHealthTransition: async () => undefined,
    notify: async () => ({ queued: true }),
  });
}

describe('healthMonitor with time skipping', () => {
  test('marks a database down only after N failed checks in a row, notifies down and up once each', async () => {
    const fake = monitorOf([up, refused, refused, up, refused, refused, refused, refused, up], 3);
    const startedAt = await platform.env.currentTimeMs();
    await platform.execute(fake, healthMonitorWorkflow, { database: 'app' });
    // Two failures (below the threshold) after the first success change nothing; the fourth
    // failure of the later run is not a second transition.
    assert.deepEqual(fake.named('recordHealthTransition'), [
      { database: 'app', status: 'up', detail: null },
      { database: 'app', status: 'down', detail: 'connection refused' },
      { database: 'app', status: 'up', detail: null },
    ]);
    const notified = fake.named('notify') as Array<{ event: string; message: string; dedupeKey: string }>;
    assert.deepEqual(
      notified.map((n) => n.event),
      ['database_down', 'database_up'],
      'the first "up" only establishes the state',
    );
    assert.match(
      notified[0]!.message,
      /database "app" is down: 3 connection checks failed in a row \(connection refused\)/,
    );
    assert.notEqual(notified[0]!.dedupeKey, notified[1]!.dedupeKey);
    assert.equal(fake.named('probeHealth').length, 9);
    // Nine hourly probes ran on the server's clock, not the test's.
    const skippedHours = ((await platform.env.currentTimeMs()) - startedAt) / 3_600_000;
    assert.ok(skippedHours >= 9, `the server clock moved ${skippedHours} h`);
  });

  test('a database that never answers is notified down once, with the threshold counted', async () => {
    const fake = monitorOf([refused, refused, refused], 2);
    await platform.execute(fake, healthMonitorWorkflow, { database: 'db' });
    assert.deepEqual(fake.named('recordHealthTransition'), [
      { database: 'db', status: 'down', detail: 'connection refused' },
    ]);
    const notified = fake.named('notify') as Array<{ event: string; message: string }>;
    assert.deepEqual(
      notified.map((n) => n.event),
      ['database_down'],
    );
    assert.match(notified[0]!.message, /2 connection checks failed in a row/);
  });

  test('a monitor carried over a continue-as-new as down notifies the recovery', async () => {
    const fake = monitorOf([up], 3);
    const carried = { status: 'down', since: '2026-01-01T00:00:00.000Z', consecutiveFailures: 7 } as const;
    await platform.execute(fake, healthMonitorWorkflow, { database: 'old', carried });
    assert.deepEqual(
      (fake.named('notify') as Array<{ event: string }>).map((n) => n.event),
      ['database_up'],
    );
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
