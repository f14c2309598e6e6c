import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HealthState } from '../../lib/catalog/health-rules.ts';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import type { PgTarget } from '../../lib/pg/connection.ts';
import { targetUrl } from '../../lib/pg/connection.ts';
import { HEALTH_SWEEP_SCHEDULE_ID, healthSweepWorkflow } from '../../temporal/contracts/health.ts';
import { createDatabase, startPlatform, startTestCluster, type Platform } from '../support/platform.ts';
import { waitFor } from '../support/wait.ts';

describe('health sweep: a database that goes down and comes back', () => {
  let platform: Platform;
  let monitored: LocalCluster;
  let target: PgTarget;

  before(async () => {
    platform = await startPlatform();
    // Its own server, so that stopping it leaves the catalog running.
    const dir = path.join(platform.dir, 'monitored');
    await mkdir(dir, { recursive: true });
    monitored = await startTestCluster(dir);
    target = await createDatabase(monitored, 'orders');
    await platform.startWorker();
    await platform.ops.addDatabase({ name: 'orders', url: targetUrl(target), verifyAfterBackup: false });
    await platform.runtime.catalog.updateDatabaseSettings('orders', {
      healthIntervalSeconds: 1,
      healthFailureThreshold: 3,
    });
  });

  after(async () => {
    await monitored?.stop('immediate').catch(() => undefined);
    await platform?.stop();
  });

  /** The state as the console, the API and the CLI read it: from the catalog. */
  const health = async (): Promise<HealthState> => {
    const state = await platform.runtime.catalog.health.state('orders');
    assert.ok(state, 'orders is registered');
    return state;
  };
  const when = (what: string, test: (s: HealthState) => boolean) =>
    waitFor(what, async () => ((s) => (test(s) ? s : undefined))(await health()), 30_000);
  const events = async (event: string) =>
    (await platform.runtime.catalog.health.notifications('orders')).filter((n) => n.event === event);

  it('is up while the server answers, and tells no one', async () => {
    const state = await when('the first check', (s) => s.status === 'up');
    assert.equal(state.consecutiveFailures, 0);
    assert.ok(state.lastProbeAt, 'the check is recorded');
    assert.deepEqual(await platform.runtime.catalog.health.notifications('orders'), []);
    // No workflow is kept per database: the schedule's short runs do the checking.
    const perDatabase = await platform.client.workflow
      .getHandle('health/orders')
      .describe()
      .catch(() => null);
    assert.equal(perDatabase, null, 'no per-database monitor');
    const schedule = await platform.client.schedule.getHandle(HEALTH_SWEEP_SCHEDULE_ID).describe();
    assert.equal(schedule.action.type, 'startWorkflow');
  });

  it('is marked down once, after three failed checks in a row, however long it stays down', async () => {
    await monitored.stop('immediate');
    const down = await when('the down transition', (s) => s.status === 'down');
    assert.ok(down.consecutiveFailures >= 3, `marked down after ${down.consecutiveFailures} failures`);
    assert.match(down.lastError ?? '', /orders/);
    // Many more failed checks: still exactly one notification.
    await when('three more failed checks', (s) => s.consecutiveFailures >= down.consecutiveFailures + 3);
    const notified = await events('database_down');
    assert.equal(notified.length, 1, JSON.stringify(notified));
    assert.match(notified[0]!.message, /database "orders" is down: 3 connection checks failed in a row/);
  });

  it('is up again after one successful check, notified once', async () => {
    await monitored.start();
    const state = await when('the up transition', (s) => s.status === 'up');
    assert.equal(state.consecutiveFailures, 0);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await events('database_up')).length, 1);
    assert.equal((await events('database_down')).length, 1);
    const history = await platform.runtime.catalog.health.history('orders');
    assert.deepEqual(
      history.map((h) => h.status),
      ['up', 'down', 'up'],
      'the uptime history holds every transition, newest first',
    );
    assert.deepEqual(
      (await health()).transitions.map((t) => [t.status, t.at]),
      history.map((h) => [h.status, h.at.toISOString()]),
      'the state carries the same transitions',
    );
  });

  it('checks every one of forty databases registered at once, which share their requests for a sweep', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `burst-${String(i).padStart(2, '0')}`);
    await Promise.all(
      names.map((name) => platform.ops.addDatabase({ name, url: targetUrl(target), verifyAfterBackup: false })),
    );
    for (const name of names) {
      const state = await waitFor(
        `the first check of ${name}`,
        async () => ((s) => (s?.lastProbeAt ? s : undefined))(await platform.runtime.catalog.health.state(name)),
        90_000,
      );
      assert.equal(state.status, 'up', `${name} checked`);
    }
  });

  it('one run checks sixty databases in batches', () => sixtyInOneRun(platform, target));
});

/** One run of the sweep, with the schedule paused: every database due is checked in it, in batches. */
async function sixtyInOneRun(platform: Platform, target: PgTarget): Promise<void> {
  // The schedule paused and its run ended, so that the one run below finds every database due.
  const { client } = platform;
  await client.schedule.getHandle(HEALTH_SWEEP_SCHEDULE_ID).pause('one run measured alone');
  for await (const run of client.workflow.list({
    query: `WorkflowType = '${healthSweepWorkflow.type}' AND ExecutionStatus = 'Running'`,
  }))
    await client.workflow.getHandle(run.workflowId, run.runId).terminate('one run measured alone');
  const names = Array.from({ length: 60 }, (_, i) => `fleet-${String(i).padStart(2, '0')}`);
  for (const name of names) {
    await platform.runtime.catalog.addDatabase({
      name,
      target,
      storageNames: ['local'],
      schedule: null,
      timezone: 'UTC',
    });
  }
  const outcome = await client.workflow.execute(healthSweepWorkflow.type, {
    workflowId: 'health-sweep/measured',
    taskQueue: platform.config.taskQueue,
    args: [{ windowSeconds: 1, batchSize: 25 }],
  });
  assert.ok(outcome.probed >= 60, `probed ${outcome.probed}`);
  assert.equal(outcome.batches, Math.ceil(outcome.probed / 25));
  assert.equal(outcome.failedBatches, 0);
  for (const name of names) {
    const state = await platform.runtime.catalog.health.state(name);
    assert.equal(state?.status, 'up', `${name} checked`);
  }
  assert.deepEqual(await platform.runtime.catalog.health.notifications('fleet-00'), [], 'a first "up" tells no one');
}
