import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { agentTaskQueue, backupIdPattern } from '../../temporal/contracts/common.ts';
import {
  baseBackupProgressQuery,
  baseBackupProgressSignal,
  baseBackupWorkflow,
  chainQuery,
  stopWalArchiverSignal,
  walArchiverWorkflow,
  walChainMonitorWorkflow,
  walReceiverReportSignal,
  walStatusQuery,
  pitrRestoreWorkflow,
  type ChainView,
  type PitrRestoreInput,
  type GapView,
  type WalArchiverStatus,
} from '../../temporal/contracts/pitr.ts';
import {
  callOrder,
  failsWith,
  type FakeActivities,
  held,
  recording,
  runsUntilCancelled,
  servingQueue,
} from './fakes.ts';
import { pitrOf, pointInTime, recovered } from './restore-fixtures.ts';
import { eventually, failureOf, whileHeld } from './runs.ts';
import { test, timeSkippingPlatform } from './support.ts';

/** The PITR workflows that keep an archive usable: WAL streaming, base backups, and the chain monitor that watches both. */
const platform = timeSkippingPlatform({ agents: ['db-host'] });

const enabled = {
  registered: true,
  enabled: true,
  agent: 'db-host',
  hostTaskQueue: agentTaskQueue('db-host'),
  slot: 'hindsight_app',
};
const receiver: NonNullable<WalArchiverStatus['receiver']> = {
  slot: 'hindsight_app',
  systemIdentifier: '7300000000000000001',
  walSegmentSize: 16 << 20,
  serverFlushLsn: '0/5000000',
  durableLsn: '0/5000000',
  durableAt: '2026-01-01T00:00:00.000Z',
  unarchivedBytes: 0,
  slotRetainedBytes: 0,
  segmentsArchived: 4,
  partialUploads: 0,
  historiesArchived: 0,
  receiverStarts: 1,
  lastError: null,
  updatedAt: '2026-01-01T00:00:00.000Z',
};
const streamed = { ...receiver, database: 'app', state: 'stopped' as const };

describe('walArchiver with time skipping', () => {
  test('a database without PITR ends at once as disabled, streaming nothing', async () => {
    const fake = recording({ pitrSettings: async () => ({ ...enabled, enabled: false }) });
    const status = await platform.execute(fake, walArchiverWorkflow, { database: 'app' });
    assert.equal(status.state, 'disabled');
    assert.equal(callOrder(fake), 'pitrSettings');
  });

  test('streams an hour at a time on the agent, continuing as new with its count, until stopped', async () => {
    const third = runsUntilCancelled();
    const queues: string[] = [];
    let runs = 0;
    const fake = recording({
      pitrSettings: async () => enabled,
      archiveWal: async () => {
        queues.push(servingQueue());
        return ++runs < 3 ? streamed : third.fake();
      },
    });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(walArchiverWorkflow, { database: 'app', runForMs: 60_000 });
      await third.started;
      await handle.signal(walReceiverReportSignal, {
        ...receiver,
        segmentsArchived: 9,
        state: 'streaming',
      } as typeof receiver);
      const live = await handle.query(walStatusQuery);
      assert.deepEqual(
        [live.state, live.runs, live.taskQueue, live.receiver?.segmentsArchived],
        ['streaming', 2, agentTaskQueue('db-host'), 9],
      );
      await handle.signal(stopWalArchiverSignal, 'PITR disabled');
      const status = await handle.result();
      assert.deepEqual(
        [status.state, status.runs, status.error],
        ['stopped', 2, null],
        'the runs before the continue-as-new are carried',
      );
      assert.ok(third.cancelled(), 'the stop cancelled the streaming activity');
    });
    assert.deepEqual(fake.named('archiveWal'), Array(3).fill({ database: 'app', runForMs: 60_000 }));
    assert.deepEqual(queues, Array(3).fill(agentTaskQueue('db-host')));
    assert.equal(fake.named('pitrSettings').length, 3, 'each run reads the settings afresh');
  });

  test('a permanent streaming error fails the archiver with the cause', async () => {
    const fake = recording({
      pitrSettings: async () => ({ ...enabled, hostTaskQueue: null }),
      archiveWal: failsWith('role "hindsight" lacks REPLICATION', 'access_denied'),
    });
    const failure = await failureOf(platform.execute(fake, walArchiverWorkflow, { database: 'app' }));
    assert.equal(failure.message, 'WAL archiving of "app" stopped: role "hindsight" lacks REPLICATION');
    assert.equal(failure.type, 'wal_archiver_failed');
    assert.deepEqual(fake.named('archiveWal'), [{ database: 'app', runForMs: 3_600_000 }]);
  });
});

const baseResult = {
  baseBackupId: '20260101T000000Z-d00001',
  objectKey: 'k',
  storageName: 'pitr',
  source: 'primary' as const,
  startLsn: '0/2000028',
  stopLsn: '0/2000100',
  timeline: 1,
  startTime: '2026-01-01T00:00:00.000Z',
  stopTime: '2026-01-01T00:01:00.000Z',
  rawBytes: 5000,
  storedBytes: 2000,
  sha256: 'cd'.repeat(32),
  kind: 'incremental' as const,
  parentId: '20251231T000000Z-d00000',
  kindReason: null,
};
const baseBackupOf = (overrides: FakeActivities = {}) =>
  recording({
    pitrSettings: async () => enabled,
    takeBaseBackup: async () => {
      assert.equal(servingQueue(), agentTaskQueue('db-host'));
      return baseResult;
    },
    recordBaseBackupFailed: async () => undefined,
    ...overrides,
  });

describe('baseBackup with time skipping', () => {
  test("takes the base backup on the database's host and reports what it took", async () => {
    const fake = baseBackupOf();
    const progress = await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(
        baseBackupWorkflow,
        { database: 'app', baseBackupId: baseResult.baseBackupId },
        'basebackup/app/one',
      );
      return handle.result();
    });
    assert.deepEqual(fake.named('takeBaseBackup'), [
      { database: 'app', baseBackupId: baseResult.baseBackupId, workflowId: 'basebackup/app/one' },
    ]);
    assert.deepEqual(progress, {
      baseBackupId: baseResult.baseBackupId,
      database: 'app',
      stage: 'complete',
      rawBytes: 5000,
      storedBytes: 2000,
      startLsn: '0/2000028',
      stopLsn: '0/2000100',
      timeline: 1,
      error: null,
      kind: 'incremental',
      parentId: '20251231T000000Z-d00000',
      kindReason: null,
    });
  });

  test('names a base backup by its start time when no id is given, and shows bytes while streaming', async () => {
    const streaming = held(baseResult);
    const fake = baseBackupOf({ takeBaseBackup: streaming.fake });
    const run = await whileHeld(
      platform,
      fake,
      streaming,
      [baseBackupWorkflow, { database: 'app' }],
      async (running) => {
        await running.signal(baseBackupProgressSignal, { rawBytes: 700, storedBytes: 0 });
        await running.signal(baseBackupProgressSignal, { rawBytes: 300, storedBytes: 0 });
        const progress = await running.query(baseBackupProgressQuery);
        assert.deepEqual([progress.stage, progress.rawBytes], ['streaming', 700]);
        assert.match(progress.baseBackupId, backupIdPattern);
        const [taken] = fake.named('takeBaseBackup') as Array<{ baseBackupId: string }>;
        assert.equal(taken!.baseBackupId, progress.baseBackupId);
      },
    );
    assert.equal(run.outcome.stage, 'complete');
  });

  test('a base backup that keeps failing is recorded failed after three tries', async () => {
    const fake = baseBackupOf({
      takeBaseBackup: failsWith('pg_basebackup exited with 1: too many connections', 'tool_failed'),
    });
    const failure = await failureOf(
      platform.execute(fake, baseBackupWorkflow, { database: 'app', baseBackupId: '20260101T000000Z-d00002' }),
    );
    assert.equal(
      failure.message,
      'base backup 20260101T000000Z-d00002 of "app" failed: pg_basebackup exited with 1: too many connections',
    );
    assert.equal(failure.type, 'base_backup_failed');
    assert.equal(fake.named('takeBaseBackup').length, 3);
    assert.deepEqual(fake.named('recordBaseBackupFailed'), [
      { baseBackupId: '20260101T000000Z-d00002', error: 'pg_basebackup exited with 1: too many connections' },
    ]);
  });

  test('a database that is not registered fails at once, taking nothing', async () => {
    const fake = baseBackupOf({ pitrSettings: async () => ({ ...enabled, registered: false }) });
    const failure = await failureOf(platform.execute(fake, baseBackupWorkflow, { database: 'gone' }));
    assert.equal(failure.message, 'database "gone" is not registered');
    assert.equal(failure.type, 'not_found');
    assert.equal(fake.named('takeBaseBackup').length, 0);
  });
});

const gap: GapView = {
  timeline: 1,
  fromLsn: '0/3000000',
  toLsn: '0/5000000',
  missing: ['000000010000000000000003'],
  missingCount: 1,
  notInStorage: [],
  text: 'timeline 1 0/3000000–0/5000000',
};
const chainOf = (database: string, view: Partial<ChainView>): ChainView => ({
  database,
  checkedAt: '2026-01-01T00:00:00.000Z',
  systemIdentifier: '7300000000000000001',
  windows: [],
  gaps: [],
  unusableBaseBackups: [],
  completeBaseBackups: 1,
  runningBaseBackups: 0,
  ...view,
});

/** A chain monitor whose walChain answers these views, one a round, the last one for every round after. */
function monitorOf(views: ChainView[]) {
  let round = 0;
  return recording({
    walChain: async () => views[Math.min(round++, views.length - 1)]!,
    notify: async () => ({ queued: true }),
    pitrSettings: async () => enabled,
    takeBaseBackup: async () => baseResult,
  });
}

describe('walChainMonitor with time skipping', () => {
  test('a new gap is notified once and answered with one base backup, which runs', async () => {
    const fake = monitorOf([chainOf('gapdb', {}), chainOf('gapdb', { gaps: [gap] })]);
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(walChainMonitorWorkflow, { database: 'gapdb', intervalSeconds: 60 });
      await platform.env.sleep('10 minutes');
      const state = await handle.query(chainQuery);
      assert.ok(state.rounds >= 5, `rounds: ${state.rounds}`);
      assert.deepEqual(
        state.baseBackupsStarted.map((s) => s.reason),
        [`gap: ${gap.text}`],
      );
      const child = jobs.handle(baseBackupWorkflow, state.baseBackupsStarted[0]!.workflowId);
      await eventually(
        async () => (await child.describe()).status.name === 'COMPLETED',
        'the base backup the gap started',
      );
      assert.deepEqual(
        fake.named('takeBaseBackup').map((t) => (t as { workflowId: string }).workflowId),
        [child.workflowId],
      );
    });
    const notified = fake.named('notify') as Array<{ event: string; message: string; dedupeKey: string }>;
    assert.equal(notified.length, 1, 'the same gap is not notified every round');
    assert.equal(notified[0]!.event, 'wal_chain_broken');
    assert.match(notified[0]!.message, /WAL chain of database "gapdb" is broken: timeline 1 0\/3000000–0\/5000000/);
    assert.equal(notified[0]!.dedupeKey, 'walchain:gapdb:7300000000000000001:1:0/3000000');
  });

  test('a gap carried over a continue-as-new is not notified again', async () => {
    const fake = monitorOf([chainOf('known', { gaps: [gap] })]);
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(walChainMonitorWorkflow, {
        database: 'known',
        intervalSeconds: 60,
        knownGaps: ['7300000000000000001:1:0/3000000'],
      });
      await platform.env.sleep('3 minutes');
      assert.deepEqual((await handle.query(chainQuery)).baseBackupsStarted, []);
    });
    assert.equal(fake.named('notify').length, 0);
  });

  test('WAL with no base backup starts one, and tries again only ten rounds later', async () => {
    const fake = monitorOf([chainOf('nobase', { completeBaseBackups: 0 })]);
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(walChainMonitorWorkflow, { database: 'nobase', intervalSeconds: 60 });
      await platform.env.sleep('15 minutes');
      const state = await handle.query(chainQuery);
      assert.ok(state.rounds >= 11 && state.rounds <= 20, `rounds: ${state.rounds}`);
      assert.deepEqual(
        state.baseBackupsStarted.map((s) => s.reason),
        ['no base backup', 'no base backup'],
      );
    });
    const notified = fake.named('notify') as Array<{ message: string }>;
    assert.equal(notified.length, 2);
    assert.match(notified[0]!.message, /database "nobase" has WAL archived but no complete base backup/);
  });

  test('a broken incremental chain is notified and answered with a base backup', async () => {
    const broken = [{ id: '20260101T000000Z-e00002', reason: 'its parent 20260101T000000Z-e00001 is gone' }];
    const fake = monitorOf([chainOf('chained', { brokenChains: broken })]);
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(walChainMonitorWorkflow, { database: 'chained', intervalSeconds: 60 });
      await platform.env.sleep('3 minutes');
      const state = await handle.query(chainQuery);
      assert.deepEqual(
        state.baseBackupsStarted.map((s) => s.reason),
        [`broken chain: base backup ${broken[0]!.id}: ${broken[0]!.reason}`],
      );
    });
    const notified = fake.named('notify') as Array<{ message: string; dedupeKey: string }>;
    assert.equal(notified.length, 1);
    assert.match(notified[0]!.message, /incremental base backup chain of database "chained" is broken/);
    assert.equal(notified[0]!.dedupeKey, `walchain:chained:chain:${broken[0]!.id}`);
  });

  test('a chain that cannot be read is shown as the last error, and the monitor goes on', async () => {
    const fake = recording({
      walChain: failsWith('storage "pitr" is unreachable', 'access_denied'),
      notify: async () => ({ queued: true }),
    });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(walChainMonitorWorkflow, { database: 'unread', intervalSeconds: 60 });
      await platform.env.sleep('3 minutes');
      const state = await handle.query(chainQuery);
      assert.deepEqual([state.lastError, state.rounds, state.last], ['storage "pitr" is unreachable', 0, null]);
    });
    assert.ok(fake.named('walChain').length >= 2, 'later rounds try again');
    assert.equal(fake.named('notify').length, 0);
  });
});

describe('pitrRestore with --then-stop, with time skipping', () => {
  const stopped = {
    ...recovered,
    server: {
      host: '127.0.0.1',
      port: 54321,
      dataDirectory: '/restore/app',
      postgresVersion: 17,
      pgCtl: '/usr/lib/postgresql/17/bin/pg_ctl',
      osUser: null,
      user: 'app',
      dbname: 'app',
      running: false,
      clientTools: { psql: 'psql', pgDump: 'pg_dump', pgRestore: 'pg_restore' },
    },
  };

  test('asks the restore activity to stop the server and returns its stopped state', async () => {
    const fake = pitrOf({ restoreToPointInTime: async () => stopped });
    const input = { ...pointInTime, to: { directory: '/restore/app', thenStop: true } };
    const outcome = await platform.execute(fake, pitrRestoreWorkflow, input);
    const [restore] = fake.named('restoreToPointInTime') as Array<{ to: unknown }>;
    assert.deepEqual(restore!.to, { directory: '/restore/app', thenStop: true });
    assert.equal(outcome.server?.running, false);
    assert.equal(outcome.kept, true, 'the data directory is kept');
  });

  test('without it the destination reaches the activity as before, with no thenStop', async () => {
    const fake = pitrOf();
    await platform.execute(fake, pitrRestoreWorkflow, pointInTime);
    const [restore] = fake.named('restoreToPointInTime') as Array<{ to: unknown }>;
    assert.deepEqual(restore!.to, { directory: '/restore/app' });
  });

  test('is refused for a sandbox, which is always stopped and removed', async () => {
    const fake = pitrOf();
    const input = { ...pointInTime, to: { sandbox: true, thenStop: true } } as unknown as PitrRestoreInput;
    await failureOf(platform.execute(fake, pitrRestoreWorkflow, input));
    assert.equal(fake.named('restoreToPointInTime').length, 0);
  });
});
