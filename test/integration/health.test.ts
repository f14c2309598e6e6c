import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { targetUrl } from '../../lib/pg/connection.ts';
import { type HealthState, uptimeQuery } from '../../temporal/contracts/health.ts';
import { createDatabase, startPlatform, startTestCluster, type Platform } from '../support/platform.ts';
import { waitFor } from '../support/wait.ts';

describe('health monitor: a database that goes down and comes back', () => {
  let platform: Platform;
  let monitored: LocalCluster;

  before(async () => {
    platform = await startPlatform();
    // Its own server, so that stopping it leaves the catalog running.
    const dir = path.join(platform.dir, 'monitored');
    await mkdir(dir, { recursive: true });
    monitored = await startTestCluster(dir);
    const target = await createDatabase(monitored, 'orders');
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

  const uptime = () => platform.client.workflow.getHandle('health/orders').query(uptimeQuery);
  const events = async (event: string) =>
    (await platform.runtime.catalog.health.notifications('orders')).filter((n) => n.event === event);

  it('is up while the server answers, and tells no one', async () => {
    const state = await waitFor(
      'the first probe',
      async () => ((await uptime()).status === 'up' ? await uptime() : undefined),
      30_000,
    );
    assert.equal(state.consecutiveFailures, 0);
    assert.deepEqual(await platform.runtime.catalog.health.notifications('orders'), []);
  });

  it('is marked down once, after three failed probes in a row, however long it stays down', async () => {
    await monitored.stop('immediate');
    const down = await waitFor(
      'the down transition',
      async () => {
        const s = await uptime();
        return s.status === 'down' ? s : undefined;
      },
      30_000,
    );
    assert.ok(down.consecutiveFailures >= 3, `marked down after ${down.consecutiveFailures} failures`);
    assert.match(down.lastError ?? '', /orders/);
    // Many more failed probes: still exactly one notification.
    await waitFor(
      'three more failed probes',
      async () => ((await uptime()).consecutiveFailures >= down.consecutiveFailures + 3 ? true : undefined),
      30_000,
    );
    const notified = await events('database_down');
    assert.equal(notified.length, 1, JSON.stringify(notified));
    assert.match(notified[0]!.message, /database "orders" is down: \d+ connection checks failed in a row/);
  });

  it('is up again after one successful probe, notified once', async () => {
    await monitored.start();
    const state: HealthState = await waitFor(
      'the up transition',
      async () => {
        const s = await uptime();
        return s.status === 'up' ? s : undefined;
      },
      30_000,
    );
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
  });
});
