import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  abortRestoreSignal, restoreBackupWorkflow, restoreProgressQuery, restoreProgressSignal, type RestoreBackupInput,
} from '../../temporal/contracts/restore.ts';
import {
  failureOf, held, recording, runsUntilCancelled, startTimeSkipping, TEST_TIMEOUT, type FakeActivities, type WorkflowTestPlatform,
} from './support.ts';

const BACKUP = '20260101T000000Z-b00001';
const input: RestoreBackupInput = { database: 'app', to: { database: 'app_copy' } };
const restored = { storageName: 'a', tablesChecked: 3, rowsChecked: 42, mismatches: [], readBytes: 900, restoredBytes: 800 };

/** A restore's activities answering as a healthy catalog and target would, overridden per test. */
function restoreOf(overrides: FakeActivities = {}) {
  return recording({
    resolveBackup: async () => ({ backupId: BACKUP }),
    prepareRestoreTarget: async () => ({ target: 'database "app_copy"', created: true }),
    recordRestoreStarted: async () => undefined,
    restoreBackupToTarget: async () => restored,
    recordRestoreEnded: async () => undefined,
    hookPlan: async () => ({ count: 0, timeoutSeconds: 0 }),
    ...overrides,
  });
}

const activities = [
  'resolveBackup', 'prepareRestoreTarget', 'recordRestoreStarted', 'restoreBackupToTarget', 'recordRestoreEnded', 'hookPlan', 'runHooks',
] as const;

describe('restoreBackup with time skipping', TEST_TIMEOUT, () => {
  let platform: WorkflowTestPlatform;
  before(async () => { platform = await startTimeSkipping(activities); });
  after(async () => { await platform?.stop(); });

  it('restores the newest backup, records it verified with its counts, then runs post_restore hooks', async () => {
    const fake = restoreOf();
    const outcome = await platform.execute(fake, restoreBackupWorkflow, input);
    assert.deepEqual(fake.calls.map((c) => c.name), [
      'resolveBackup', 'prepareRestoreTarget', 'recordRestoreStarted', 'restoreBackupToTarget', 'recordRestoreEnded', 'hookPlan',
    ]);
    assert.deepEqual(fake.named('resolveBackup'), [{ database: 'app' }]);
    const [started] = fake.named('recordRestoreStarted') as Array<{ restoreId: string; backupId: string; target: string }>;
    assert.equal(started!.backupId, BACKUP);
    assert.equal(started!.target, 'database "app_copy"');
    assert.deepEqual(fake.named('restoreBackupToTarget'), [{ database: 'app', backupId: BACKUP, to: { database: 'app_copy' }, restoreId: started!.restoreId }]);
    assert.deepEqual(fake.named('recordRestoreEnded'), [{ restoreId: started!.restoreId, status: 'verified', tablesChecked: 3, rowsChecked: 42 }]);
    assert.deepEqual(fake.named('hookPlan'), [{ database: 'app', kind: 'post_restore' }]);
    assert.deepEqual(outcome, {
      restoreId: started!.restoreId, backupId: BACKUP, storageName: 'a', database: 'app', target: 'database "app_copy"', tablesChecked: 3, rowsChecked: 42,
    });
  });

  it('a restore whose row counts differ fails, naming every table, and is recorded failed', async () => {
    const mismatches = [{ schema: 'public', table: 'orders', expected: 10, actual: 9 }, { schema: 'public', table: 'gone', expected: 1, actual: null }];
    const fake = restoreOf({ restoreBackupToTarget: async () => ({ ...restored, mismatches }) });
    const failure = await failureOf(platform.execute(fake, restoreBackupWorkflow, { ...input, backupId: BACKUP }));
    const expected = `restored data differs from backup ${BACKUP} in 2 table(s): public.orders: expected 10, restored 9; public.gone: expected 1, restored absent`;
    assert.equal(failure.message, `restore of backup ${BACKUP} (database "app") into database "app_copy" failed: ${expected}`);
    assert.equal(failure.type, 'restore_failed');
    assert.deepEqual(fake.named('resolveBackup'), [{ database: 'app', backupId: BACKUP }]);
    const ended = fake.named('recordRestoreEnded') as Array<{ status: string; error: string }>;
    assert.deepEqual(ended.map((e) => [e.status, e.error]), [['failed', expected]]);
    assert.equal(fake.named('hookPlan').length, 0, 'no post_restore hooks after a failed restore');
  });

  it('a backup that does not exist fails at once, before anything is recorded', async () => {
    const fake = restoreOf({
      resolveBackup: async () => { throw ApplicationFailure.create({ message: 'database "app" has no complete backup', type: 'not_found', nonRetryable: true }); },
    });
    const failure = await failureOf(platform.execute(fake, restoreBackupWorkflow, input));
    assert.equal(failure.message, 'restore of a backup (database "app") into the restore target failed: database "app" has no complete backup');
    assert.deepEqual(fake.calls.map((c) => c.name), ['resolveBackup'], 'not retried, nothing recorded');
  });

  it('a restore that fails once is tried again and succeeds', async () => {
    let tries = 0;
    const fake = restoreOf({
      restoreBackupToTarget: async () => {
        if (++tries === 1) throw ApplicationFailure.create({ message: 'storage "a" is unreachable', type: 'unreachable' });
        return restored;
      },
    });
    const outcome = await platform.execute(fake, restoreBackupWorkflow, input);
    assert.equal(fake.named('restoreBackupToTarget').length, 2);
    assert.equal(outcome.rowsChecked, 42);
  });

  it('a post_restore hook that fails leaves the restore standing, with the failure as a warning', async () => {
    const fake = restoreOf({
      hookPlan: async () => ({ count: 1, timeoutSeconds: 10 }),
      runHooks: async () => ({ ran: 1, failures: [{ message: 'post_restore hook "grant" exited with 1' }] }) as never,
    });
    const outcome = await platform.execute(fake, restoreBackupWorkflow, input);
    assert.deepEqual(outcome.warnings, ['post_restore hook "grant" exited with 1']);
    const [hooks] = fake.named('runHooks') as Array<{ kind: string; backupId: string; restoreId: string }>;
    assert.equal(hooks!.kind, 'post_restore');
    assert.equal(hooks!.restoreId, outcome.restoreId);
  });

  it('progress shows the bytes the restore reports while it runs', async () => {
    const restoring = held<typeof restored>();
    const fake = restoreOf({ restoreBackupToTarget: restoring.fake });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(restoreBackupWorkflow, input);
      await restoring.started;
      await handle.signal(restoreProgressSignal, { readBytes: 300, restoredBytes: 250 });
      await handle.signal(restoreProgressSignal, { readBytes: 100, restoredBytes: 50 });
      const progress = await handle.query(restoreProgressQuery);
      assert.deepEqual({ stage: progress.stage, backupId: progress.backupId, readBytes: progress.readBytes, restoredBytes: progress.restoredBytes },
        { stage: 'restoring', backupId: BACKUP, readBytes: 300, restoredBytes: 250 }, 'bytes never go backwards');
      restoring.release(restored);
      await handle.result();
      assert.equal((await handle.query(restoreProgressQuery)).stage, 'verified');
    });
  });

  it('an abort cancels the running restore, records it failed and fails the run with the cancelled activity', async () => {
    const restoring = runsUntilCancelled();
    const fake = restoreOf({ restoreBackupToTarget: restoring.fake });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(restoreBackupWorkflow, input);
      await restoring.started;
      await handle.signal(abortRestoreSignal, 'wrong backup');
      // Only the restore's scope was cancelled, not the run: the run fails with the activity's cancellation.
      const failure = await failureOf(handle.result());
      assert.ok(failure instanceof ActivityFailure && failure.cause instanceof CancelledFailure, `the activity was cancelled: ${String(failure)}`);
      assert.ok(restoring.cancelled(), 'the activity saw the cancellation');
      const ended = fake.named('recordRestoreEnded') as Array<{ status: string; error: string }>;
      assert.deepEqual(ended.map((e) => [e.status, e.error]), [['failed', 'aborted by request']]);
      const progress = await handle.query(restoreProgressQuery);
      assert.deepEqual([progress.stage, progress.error], ['aborted', 'aborted by request']);
    });
  });

  it('an input that names a system database fails at once with the field', async () => {
    const fake = restoreOf();
    const failure = await failureOf(platform.execute(fake, restoreBackupWorkflow, { database: 'app', to: { database: 'template1' } }));
    assert.equal(failure.type, 'bad_input');
    assert.ok(failure.message.startsWith(`invalid ${restoreBackupWorkflow.type} input: to.database: `), failure.message);
    assert.match(failure.message, /to\.database "template1" is one of PostgreSQL's own databases/);
    assert.equal(fake.calls.length, 0);
  });
});
