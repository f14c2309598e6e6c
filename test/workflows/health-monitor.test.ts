import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { healthMonitorWorkflow } from '../../temporal/contracts/health.ts';
import { recording, startTimeSkipping, TEST_TIMEOUT, type WorkflowTestPlatform } from './support.ts';

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
  let platform: WorkflowTestPlatform;
  before(async () => { platform = await startTimeSkipping(['healthSettings', 'probeHealth', 'recordHealthTransition', 'notify']); });
  after(async () => { await platform?.stop(); });

  it('marks a database down only after N failed checks in a row, notifies down and up once each', TEST_TIMEOUT, async () => {
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
    assert.deepEqual(notified.map((n) => n.event), ['database_down', 'database_up'], 'the first "up" only establishes the state');
    assert.match(notified[0]!.message, /database "app" is down: 3 connection checks failed in a row \(connection refused\)/);
    assert.notEqual(notified[0]!.dedupeKey, notified[1]!.dedupeKey);
    assert.equal(fake.named('probeHealth').length, 9);
    // Nine hourly probes ran on the server's clock, not the test's.
    const skippedHours = (await platform.env.currentTimeMs() - startedAt) / 3_600_000;
    assert.ok(skippedHours >= 9, `the server clock moved ${skippedHours} h`);
  });

  it('a database that never answers is notified down once, with the threshold counted', TEST_TIMEOUT, async () => {
    const fake = monitorOf([refused, refused, refused], 2);
    await platform.execute(fake, healthMonitorWorkflow, { database: 'db' });
    assert.deepEqual(fake.named('recordHealthTransition'), [{ database: 'db', status: 'down', detail: 'connection refused' }]);
    const notified = fake.named('notify') as Array<{ event: string; message: string }>;
    assert.deepEqual(notified.map((n) => n.event), ['database_down']);
    assert.match(notified[0]!.message, /2 connection checks failed in a row/);
  });

  it('a monitor carried over a continue-as-new as down notifies the recovery', TEST_TIMEOUT, async () => {
    const fake = monitorOf([up], 3);
    const carried = { status: 'down', since: '2026-01-01T00:00:00.000Z', consecutiveFailures: 7 } as const;
    await platform.execute(fake, healthMonitorWorkflow, { database: 'old', carried });
    assert.deepEqual((fake.named('notify') as Array<{ event: string }>).map((n) => n.event), ['database_up']);
  });
});
