import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { ActivityFailure, CancelledFailure } from '@temporalio/common';
import { agentTaskQueue } from '../../temporal/contracts/common.ts';
import {
  abortPitrSignal,
  pitrProgressQuery,
  pitrProgressSignal,
  pitrRestoreWorkflow,
  type PitrOutcome,
  type PitrRestoreInput,
} from '../../temporal/contracts/pitr.ts';
import {
  abortRestoreSignal,
  restoreBackupWorkflow,
  restoreProgressQuery,
  restoreProgressSignal,
  type RestoreBackupInput,
  type RestoreOutcome,
} from '../../temporal/contracts/restore.ts';
import { activityFailure, callOrder, failsWith, held, runsUntilCancelled } from './fakes.ts';
import { failureOf, interrupted, whileHeld } from './runs.ts';
import { test, timeSkippingPlatform, type Handle } from './support.ts';
import {
  BACKUP,
  BASE,
  pitrOf,
  plan,
  pointInTime,
  recovered,
  restoreInput,
  restoreOf,
  restored,
} from './restore-fixtures.ts';

/** Both kinds of restore: a logical backup into a database (restoreBackup), and a point in time (pitrRestore). */
const platform = timeSkippingPlatform({ agents: ['db-host'] });

describe('restoreBackup with time skipping', () => {
  test('restores the newest backup, records it verified with its counts, then runs post_restore hooks', async () => {
    const fake = restoreOf();
    const outcome = await platform.execute(fake, restoreBackupWorkflow, restoreInput);
    assert.equal(
      callOrder(fake),
      'resolveBackup → prepareRestoreTarget → recordRestoreStarted → restoreBackupToTarget → recordRestoreEnded → hookPlan',
    );
    assert.deepEqual(fake.named('resolveBackup'), [{ database: 'app' }]);
    const [started] = fake.named('recordRestoreStarted') as Array<{
      restoreId: string;
      backupId: string;
      target: string;
    }>;
    assert.equal(started!.backupId, BACKUP);
    assert.equal(started!.target, 'database "app_copy"');
    assert.deepEqual(fake.named('restoreBackupToTarget'), [
      { database: 'app', backupId: BACKUP, to: { database: 'app_copy' }, restoreId: started!.restoreId },
    ]);
    assert.deepEqual(fake.named('recordRestoreEnded'), [
      { restoreId: started!.restoreId, status: 'verified', tablesChecked: 3, rowsChecked: 42 },
    ]);
    assert.deepEqual(fake.named('hookPlan'), [{ database: 'app', kind: 'post_restore' }]);
    assert.deepEqual(outcome, {
      restoreId: started!.restoreId,
      backupId: BACKUP,
      storageName: 'a',
      database: 'app',
      target: 'database "app_copy"',
      tablesChecked: 3,
      rowsChecked: 42,
    });
  });

  test('a restore whose row counts differ fails, naming every table, and is recorded failed', async () => {
    const mismatches = [
      { schema: 'public', table: 'orders', expected: 10, actual: 9 },
      { schema: 'public', table: 'gone', expected: 1, actual: null },
    ];
    const fake = restoreOf({ restoreBackupToTarget: async () => ({ ...restored, mismatches }) });
    const failure = await failureOf(
      platform.execute(fake, restoreBackupWorkflow, { ...restoreInput, backupId: BACKUP }),
    );
    const expected = `restored data differs from backup ${BACKUP} in 2 table(s): public.orders: expected 10, restored 9; public.gone: expected 1, restored absent`;
    assert.equal(
      failure.message,
      `restore of backup ${BACKUP} (database "app") into database "app_copy" failed: ${expected}`,
    );
    assert.equal(failure.type, 'restore_failed');
    assert.deepEqual(fake.named('resolveBackup'), [{ database: 'app', backupId: BACKUP }]);
    const ended = fake.named('recordRestoreEnded') as Array<{ status: string; error: string }>;
    assert.deepEqual(
      ended.map((e) => [e.status, e.error]),
      [['failed', expected]],
    );
    assert.equal(fake.named('hookPlan').length, 0, 'no post_restore hooks after a failed restore');
  });

  test('a backup that does not exist fails at once, before anything is recorded', async () => {
    const fake = restoreOf({
      resolveBackup: failsWith('database "app" has no complete backup', 'not_found', { nonRetryable: true }),
    });
    const failure = await failureOf(platform.execute(fake, restoreBackupWorkflow, restoreInput));
    assert.equal(
      failure.message,
      'restore of a backup (database "app") into the restore target failed: database "app" has no complete backup',
    );
    assert.equal(callOrder(fake), 'resolveBackup', 'not retried, nothing recorded');
  });

  test('a restore that fails once is tried again and succeeds', async () => {
    let tries = 0;
    const fake = restoreOf({
      restoreBackupToTarget: async () => {
        if (++tries === 1) throw activityFailure('storage "a" is unreachable', 'unreachable');
        return restored;
      },
    });
    const outcome = await platform.execute(fake, restoreBackupWorkflow, restoreInput);
    assert.equal(fake.named('restoreBackupToTarget').length, 2);
    assert.equal(outcome.rowsChecked, 42);
  });

  test('a post_restore hook that fails leaves the restore standing, with the failure as a warning', async () => {
    const fake = restoreOf({
      hookPlan: async () => ({ count: 1, timeoutSeconds: 10 }),
      runHooks: async () => ({ ran: 1, failures: [{ message: 'post_restore hook "grant" exited with 1' }] }) as never,
    });
    const outcome = await platform.execute(fake, restoreBackupWorkflow, restoreInput);
    assert.deepEqual(outcome.warnings, ['post_restore hook "grant" exited with 1']);
    const [hooks] = fake.named('runHooks') as Array<{ kind: string; backupId: string; restoreId: string }>;
    assert.equal(hooks!.kind, 'post_restore');
    assert.equal(hooks!.restoreId, outcome.restoreId);
  });

  test('an input that names a system database fails at once with the field', async () => {
    const fake = restoreOf();
    const failure = await failureOf(
      platform.execute(fake, restoreBackupWorkflow, { database: 'app', to: { database: 'template1' } }),
    );
    assert.equal(failure.type, 'bad_input');
    assert.ok(
      failure.message.startsWith(`invalid ${restoreBackupWorkflow.type} input: to.database: `),
      failure.message,
    );
    assert.match(failure.message, /to\.database "template1" is one of PostgreSQL's own databases/);
    assert.equal(fake.calls.length, 0);
  });
});

describe('restoreBackup while it runs, with time skipping', () => {
  test('progress shows the bytes the restore reports while it runs', async () => {
    const restoring = held(restored);
    const fake = restoreOf({ restoreBackupToTarget: restoring.fake });
    const run = await whileHeld(platform, fake, restoring, [restoreBackupWorkflow, restoreInput], async (running) => {
      await running.signal(restoreProgressSignal, { readBytes: 300, restoredBytes: 250 });
      await running.signal(restoreProgressSignal, { readBytes: 100, restoredBytes: 50 });
      const progress = await running.query(restoreProgressQuery);
      assert.deepEqual(
        {
          stage: progress.stage,
          backupId: progress.backupId,
          readBytes: progress.readBytes,
          restoredBytes: progress.restoredBytes,
        },
        { stage: 'restoring', backupId: BACKUP, readBytes: 300, restoredBytes: 250 },
        'bytes never go backwards',
      );
    });
    assert.equal((await run.handle.query(restoreProgressQuery)).stage, 'verified');
  });

  test('an abort cancels the running restore, records it failed and fails the run with the cancelled activity', async () => {
    const restoring = runsUntilCancelled();
    const fake = restoreOf({ restoreBackupToTarget: restoring.fake });
    const abort = (handle: Handle<RestoreBackupInput, RestoreOutcome>) =>
      handle.signal(abortRestoreSignal, 'wrong backup');
    const { handle, failure } = await interrupted(
      platform,
      fake,
      restoring,
      [restoreBackupWorkflow, restoreInput],
      abort,
    );
    // Only the restore's scope was cancelled, not the run: the run fails with the activity's cancellation.
    assert.ok(
      failure instanceof ActivityFailure && failure.cause instanceof CancelledFailure,
      `the activity was cancelled: ${String(failure)}`,
    );
    const ended = fake.named('recordRestoreEnded') as Array<{ status: string; error: string }>;
    assert.deepEqual(
      ended.map((e) => [e.status, e.error]),
      [['failed', 'aborted by request']],
    );
    const progress = await handle.query(restoreProgressQuery);
    assert.deepEqual([progress.stage, progress.error], ['aborted', 'aborted by request']);
  });
});

describe('pitrRestore with time skipping', () => {
  test('restores the base backup the plan chose, to the target, on the main queue', async () => {
    const fake = pitrOf();
    const outcome = await platform.execute(fake, pitrRestoreWorkflow, pointInTime);
    assert.deepEqual(fake.named('planPitrRestore'), [{ database: 'app', target: { time: '2026-01-01T10:00:00Z' } }]);
    const [restore] = fake.named('restoreToPointInTime') as Array<Record<string, unknown>>;
    assert.match(String(restore!.restoreId), /^pitr-[0-9a-f]{12}$/);
    assert.deepEqual(
      { ...restore, restoreId: undefined },
      {
        database: 'app',
        restoreId: undefined,
        baseBackupId: BASE,
        timeline: 1,
        target: { time: '2026-01-01T10:00:00Z' },
        to: { directory: '/restore/app' },
        endsAtHead: false,
      },
    );
    assert.deepEqual(outcome, { database: 'app', baseBackupId: BASE, timeline: 1, ...recovered });
    assert.equal(fake.queues.length, 1);
    assert.ok(!fake.queues[0]!.startsWith('agent/'), `served by the main worker, not ${fake.queues[0]}`);
  });

  test('a directory restore of a database with an agent runs on that agent', async () => {
    const fake = pitrOf({ planPitrRestore: async () => ({ ...plan, agent: 'db-host' }) });
    await platform.execute(fake, pitrRestoreWorkflow, pointInTime);
    assert.deepEqual(fake.queues, [agentTaskQueue('db-host')]);
  });

  test('a sandbox restore runs on the main queue even when the database has an agent', async () => {
    const fake = pitrOf({ planPitrRestore: async () => ({ ...plan, agent: 'db-host' }) });
    await platform.execute(fake, pitrRestoreWorkflow, { ...pointInTime, to: { sandbox: true } });
    assert.equal(fake.queues.length, 1);
    assert.notEqual(fake.queues[0], agentTaskQueue('db-host'));
  });

  test("a target outside every window fails at once with the planner's words, restoring nothing", async () => {
    const refusal = 'target 2027-01-01 10:00 UTC is outside the recoverable windows: 2026-01-01 00:00 – 12:00 UTC';
    const fake = pitrOf({
      planPitrRestore: failsWith(refusal, 'bad_input', { nonRetryable: true }),
    });
    const failure = await failureOf(
      platform.execute(fake, pitrRestoreWorkflow, { ...pointInTime, target: { time: '2027-01-01T10:00:00Z' } }),
    );
    assert.equal(failure.message, `point-in-time restore of database "app" failed: ${refusal}`);
    assert.equal(failure.type, 'restore_failed');
    assert.equal(callOrder(fake), 'planPitrRestore');
  });

  test('a restore that fails twice fails the run after one retry', async () => {
    const fake = pitrOf({
      restoreToPointInTime: failsWith('recovery ended before the target', 'tool_failed'),
    });
    const failure = await failureOf(platform.execute(fake, pitrRestoreWorkflow, pointInTime));
    assert.equal(failure.message, 'point-in-time restore of database "app" failed: recovery ended before the target');
    assert.equal(fake.named('restoreToPointInTime').length, 2);
  });
});

describe('pitrRestore while it runs, with time skipping', () => {
  test('progress follows the restore from extracting to recovering as reports arrive', async () => {
    const restoring = held(recovered);
    const fake = pitrOf({ restoreToPointInTime: restoring.fake });
    const run = await whileHeld(platform, fake, restoring, [pitrRestoreWorkflow, pointInTime], async (running) => {
      await running.signal(pitrProgressSignal, { extractedBytes: 4096 });
      const extracting = await running.query(pitrProgressQuery);
      assert.deepEqual(
        [extracting.stage, extracting.baseBackupId, extracting.window, extracting.extractedBytes],
        ['extracting', BASE, plan.window, 4096],
      );
      await running.signal(pitrProgressSignal, { extractedBytes: 1024, segmentsFetched: 2, replayLsn: '0/2000028' });
      const recovering = await running.query(pitrProgressQuery);
      assert.deepEqual(
        [recovering.stage, recovering.extractedBytes, recovering.segmentsFetched, recovering.replayLsn],
        ['recovering', 4096, 2, '0/2000028'],
      );
    });
    const done = await run.handle.query(pitrProgressQuery);
    assert.deepEqual([done.stage, done.replayLsn, done.segmentsFetched], ['promoted', '0/3000060', 3]);
  });

  test('an abort cancels the running restore and ends the run cancelled with the reason', async () => {
    const restoring = runsUntilCancelled();
    const fake = pitrOf({ restoreToPointInTime: restoring.fake });
    const abort = (handle: Handle<PitrRestoreInput, PitrOutcome>) => handle.signal(abortPitrSignal, 'wrong target');
    const { handle, failure } = await interrupted(platform, fake, restoring, [pitrRestoreWorkflow, pointInTime], abort);
    assert.ok(failure instanceof CancelledFailure, `the run ended cancelled: ${String(failure)}`);
    assert.equal(failure.message, 'aborted: wrong target');
    const progress = await handle.query(pitrProgressQuery);
    assert.deepEqual([progress.stage, progress.error], ['aborted', 'aborted: wrong target']);
  });

  test('an abort while the plan is made ends the run before any restore starts', async () => {
    const planning = held(plan);
    const fake = pitrOf({ planPitrRestore: planning.fake });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(pitrRestoreWorkflow, pointInTime);
      await planning.started;
      await handle.signal(abortPitrSignal);
      const failure = await failureOf(handle.result());
      assert.ok(failure instanceof CancelledFailure, `the run ended cancelled: ${String(failure)}`);
      assert.equal(failure.message, 'aborted by request');
      assert.equal(fake.named('restoreToPointInTime').length, 0);
      // The planning activity is not waited for (a catalog call is only asked to stop): it ends here.
      planning.release();
    });
  });
});
