import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../../lib/pg/connection.ts';
import type { WalArchiverInput } from '../../temporal/contracts/pitr.ts';
import { restoredRows, stopArchiver, takeBaseBackup } from '../support/pitr-fixture.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Synchronous PITR (RPO 0): the receiver is the server's synchronous standby `hindsight_<db>` and
 * confirms only what storage holds. Without it a commit waits (SyncRep); with it, every commit the
 * server acknowledged is restored by a restore to the latest point taken right after it.
 */
describe('PITR in synchronous mode: an acknowledged commit is in the archive', () => {
  const pitr = usePitrScenario('ledgersync', {
    setUp: async ({ platform }) => {
      await takeBaseBackup(platform, 'ledgersync', 'first');
    },
  });

  const startArchiver = async () => {
    const args: WalArchiverInput = { database: 'ledgersync' };
    await pitr.platform.client.workflow.start('walArchiver', {
      taskQueue: pitr.platform.config.taskQueue,
      workflowId: 'wal/ledgersync',
      args: [args],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
  };

  it('a commit waits while the receiver is away, and every acknowledged commit restores', async () => {
    const { platform, source } = pitr;
    await stopArchiver(platform, 'ledgersync');
    await platform.runtime.catalog.wal.updateSettings('ledgersync', { synchronous: true });
    await source.query(`alter system set synchronous_standby_names = 'hindsight_ledgersync'`);
    await source.query(`alter system set synchronous_commit = 'on'`);
    await source.query('select pg_reload_conf()');

    // No standby of that name: the commit is written locally and waits for it.
    const waiting = await connect('waiting', source.target);
    try {
      const [{ pid }] = (await waiting.query<{ pid: number }>('select pg_backend_pid() as pid')).rows as [
        { pid: number },
      ];
      const pending = waiting.query(`insert into events (at, note) values (clock_timestamp(), 'waits') returning id`);
      await waitFor(
        'the commit to wait for the synchronous standby',
        async () => {
          const rows = await source.query<{ wait_event: string | null }>(
            'select wait_event from pg_stat_activity where pid = $1',
            [pid],
          );
          return rows[0]?.wait_event === 'SyncRep' ? true : undefined;
        },
        10_000,
        100,
      );
      let settled = false;
      void pending.then(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(settled, false, 'the commit is not acknowledged without the receiver');

      // The receiver comes back in synchronous mode: the waiting commit is acknowledged once stored.
      await startArchiver();
      const released = await Promise.race([
        pending.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 20_000)),
      ]);
      assert.equal(released, true, 'the commit is acknowledged once the receiver has stored it');
    } finally {
      await waiting.end();
    }
    const [standby] = await source.query<{ sync_state: string }>(
      `select sync_state from pg_stat_replication where application_name = 'hindsight_ledgersync'`,
    );
    assert.equal(standby?.sync_state, 'sync');

    // Commit rows one by one; the last acknowledged one must survive a restore taken at once.
    const writer = await connect('writer', source.target);
    let last = 0;
    const latencies: number[] = [];
    try {
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        const t0 = performance.now();
        const { rows } = await writer.query<{ id: number }>(
          `insert into events (at, note) values (clock_timestamp(), 'acknowledged') returning id`,
        );
        latencies.push(performance.now() - t0);
        last = rows[0]!.id;
      }
    } finally {
      await writer.end();
    }
    assert.ok(latencies.length >= 3, `${latencies.length} commits`);
    const { outcome } = await pitr.restoreInto('latest', 'latest', 'sync-latest');
    const restored = await restoredRows(source, outcome.port!);
    assert.ok(
      restored.some((r) => r.id === last),
      `the last acknowledged row ${last} is restored (newest restored: ${restored.at(-1)?.id})`,
    );
    await source.query('alter system reset synchronous_standby_names');
    await source.query('select pg_reload_conf()');
  });
});
