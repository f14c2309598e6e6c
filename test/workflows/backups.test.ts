import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  backupDatabaseWorkflow,
  replicateBackupWorkflow,
  type BackupOutcome,
} from '../../temporal/contracts/backup.ts';
import { gfsRetentionWorkflow } from '../../temporal/contracts/retention.ts';
import { activityFailure, callOrder, failsWith, type FakeActivities, recording } from './fakes.ts';
import { failureOf } from './runs.ts';
import { test, timeSkippingPlatform } from './support.ts';

/** Logical backups: the backup itself, the replication that completes a partial one, and GFS retention. */
const platform = timeSkippingPlatform();

type Copy = { storageName: string; status: 'complete' | 'failed'; error?: string; sizeBytes?: number };
const dumped = (copies: Copy[]) => ({
  status: copies.every((c) => c.status === 'complete') ? 'complete' : 'partial',
  copies,
  sizeBytes: 900,
  dumpBytes: 800,
  sha256: 'ab'.repeat(32),
  tables: 3,
  rows: 42,
});
/** A dump that reached these storages (or did not): what dumpDatabaseToStorage answers. */
function dumpTo(...copies: Copy[]) {
  return async () => dumped(copies) as never;
}
const took = (storageName: string): Copy => ({ storageName, status: 'complete' });
const missed = (storageName: string, error: string): Copy => ({ storageName, status: 'failed', error });

/** A backup's activities answering as a healthy source with two storages would, overridden per test. */
function backupOf(overrides: FakeActivities = {}) {
  return recording({
    recordBackupStarted: async () => ({ storageNames: ['a', 'b'] }),
    hookPlan: async () => ({ count: 0, timeoutSeconds: 0 }),
    probeDatabase: async () => ({ serverVersion: '16.4', sizeBytes: 1000 }),
    dumpDatabaseToStorage: dumpTo(took('a'), took('b')),
    settleBackup: async () => ({ status: 'complete' }),
    requestVerification: async () => ({ verificationId: 'v1' }),
    recordBackupEnded: async () => undefined,
    ...overrides,
  });
}

describe('backupDatabase with time skipping', () => {
  const run = (fake: ReturnType<typeof backupOf>, backupId: string): Promise<BackupOutcome> =>
    platform.execute(
      fake,
      backupDatabaseWorkflow,
      { database: 'app', backupId, trigger: 'manual' },
      `backup/${backupId}`,
    );

  test('a backup every storage took is complete, verified, and copies nothing', async () => {
    const fake = backupOf();
    const outcome: BackupOutcome = await run(fake, '20260101T000000Z-a00001');
    assert.equal(outcome.status, 'complete');
    assert.deepEqual(
      outcome.copies.map((c) => c.storageName),
      ['a', 'b'],
    );
    assert.equal(outcome.rows, 42);
    assert.equal(
      callOrder(fake),
      'recordBackupStarted → hookPlan → probeDatabase → dumpDatabaseToStorage → settleBackup → requestVerification → hookPlan',
    );
    assert.deepEqual(fake.named('requestVerification'), [
      { database: 'app', backupId: '20260101T000000Z-a00001', trigger: 'backup' },
    ]);
  });

  test('a storage that missed the dump gets a copy from one that has it', async () => {
    const fake = backupOf({
      dumpDatabaseToStorage: dumpTo(took('a'), missed('b', 'timeout')),
      copyBackupToStorage: async (input) => ({ storageName: input.storageName, status: 'complete', sizeBytes: 900 }),
    });
    const outcome = await run(fake, '20260101T000000Z-a00002');
    assert.deepEqual(fake.named('copyBackupToStorage'), [
      { database: 'app', backupId: '20260101T000000Z-a00002', storageName: 'b' },
    ]);
    assert.equal(outcome.status, 'complete');
    assert.deepEqual(
      outcome.copies.find((c) => c.storageName === 'b'),
      { storageName: 'b', status: 'complete', sizeBytes: 900 },
    );
  });

  test('a copy that keeps failing is retried once, then the backup is partial with the cause', async () => {
    const fake = backupOf({
      dumpDatabaseToStorage: dumpTo(took('a'), missed('b', 'timeout')),
      copyBackupToStorage: failsWith('storage "b" is unreachable: ECONNREFUSED', 'unreachable'),
      settleBackup: async () => ({ status: 'partial' }),
    });
    const outcome = await run(fake, '20260101T000000Z-a00003');
    // copyActivities(2): the 10 s back-off between the two tries is skipped, not waited.
    assert.equal(fake.named('copyBackupToStorage').length, 2);
    assert.equal(outcome.status, 'partial');
    assert.deepEqual(
      outcome.copies.find((c) => c.storageName === 'b'),
      { storageName: 'b', status: 'failed', error: 'storage "b" is unreachable: ECONNREFUSED' },
    );
    assert.equal(fake.named('recordBackupEnded').length, 0, 'a partial backup is settled, not ended as failed');
  });

  test('a full storage is not retried', async () => {
    const fake = backupOf({
      dumpDatabaseToStorage: dumpTo(missed('a', 'full'), took('b')),
      copyBackupToStorage: failsWith('storage "a" is full', 'no_space', { nonRetryable: true }),
      settleBackup: async () => ({ status: 'partial' }),
    });
    const outcome = await run(fake, '20260101T000000Z-a00004');
    assert.equal(fake.named('copyBackupToStorage').length, 1);
    assert.equal(outcome.status, 'partial');
  });

  test('a source that stays down fails the backup after four checks, recorded with the cause', async () => {
    const fake = backupOf({
      probeDatabase: failsWith('could not connect to "app": connection refused', 'unreachable'),
    });
    const failure = await failureOf(run(fake, '20260101T000000Z-a00005'));
    assert.match(
      failure.message,
      /backup 20260101T000000Z-a00005 of database "app" failed: could not connect to "app": connection refused/,
    );
    assert.equal(fake.named('probeDatabase').length, 4);
    assert.equal(fake.named('dumpDatabaseToStorage').length, 0);
    assert.deepEqual(fake.named('recordBackupEnded'), [
      {
        backupId: '20260101T000000Z-a00005',
        status: 'failed',
        error: 'could not connect to "app": connection refused',
      },
    ]);
  });

  test('a pre_backup hook that fails cancels the backup before the dump, with its output as the reason', async () => {
    const fake = backupOf({
      hookPlan: async (input) => ({ count: input.kind === 'pre_backup' ? 1 : 0, timeoutSeconds: 10 }),
      runHooks: async () =>
        ({ ran: 1, failures: [{ message: 'pre_backup hook "lock" exited with 3: busy' }] }) as never,
    });
    const outcome = await run(fake, '20260101T000000Z-a00006');
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.reason, 'pre_backup hook "lock" exited with 3: busy');
    assert.equal(fake.named('dumpDatabaseToStorage').length, 0);
    assert.deepEqual(fake.named('recordBackupEnded'), [
      {
        backupId: '20260101T000000Z-a00006',
        status: 'cancelled',
        error: 'pre_backup hook "lock" exited with 3: busy',
      },
    ]);
  });
});

const REPLICATED = '20260101T000000Z-a00010';
/** A partial backup: storage a holds it whole, b and c do not. */
const partialCopies = [
  { storageName: 'a', status: 'complete' as const, sizeBytes: 900 },
  { storageName: 'b', status: 'failed' as const, error: 'timeout' },
  { storageName: 'c', status: 'failed' as const, error: 'full' },
];

describe('replicateBackup with time skipping', () => {
  test('copies the backup into every storage that missed it and settles it', async () => {
    const fake = recording({
      listCopies: async () => partialCopies,
      copyBackupToStorage: async (input) => ({ storageName: input.storageName, status: 'complete', sizeBytes: 900 }),
      settleBackup: async () => ({ status: 'complete' }),
    });
    const outcome = await platform.execute(fake, replicateBackupWorkflow, { database: 'app', backupId: REPLICATED });
    const copied = (fake.named('copyBackupToStorage') as Array<{ storageName: string }>).sort((x, y) =>
      x.storageName.localeCompare(y.storageName),
    );
    assert.deepEqual(
      copied,
      ['b', 'c'].map((storageName) => ({ database: 'app', backupId: REPLICATED, storageName })),
    );
    assert.deepEqual(fake.named('settleBackup'), [{ backupId: REPLICATED }]);
    assert.equal(outcome.status, 'complete');
    assert.deepEqual(
      outcome.copies.map((c) => `${c.storageName}: ${c.status}`),
      ['a: complete', 'b: complete', 'c: complete'],
    );
  });

  test('a storage that refuses the copy leaves the backup partial, with the cause', async () => {
    const fake = recording({
      listCopies: async () => partialCopies,
      copyBackupToStorage: async (input) => {
        if (input.storageName === 'c') throw activityFailure('storage "c" is full', 'no_space');
        return { storageName: input.storageName, status: 'complete', sizeBytes: 900 };
      },
      settleBackup: async () => ({ status: 'partial' }),
    });
    const outcome = await platform.execute(fake, replicateBackupWorkflow, { database: 'app', backupId: REPLICATED });
    assert.equal(outcome.status, 'partial');
    assert.deepEqual(outcome.copies[2], { storageName: 'c', status: 'failed', error: 'storage "c" is full' });
    assert.equal(
      (fake.named('copyBackupToStorage') as Array<{ storageName: string }>).filter((c) => c.storageName === 'c').length,
      1,
      'no_space is not retried',
    );
  });

  test('with storages, copies into exactly those: a new storage gets the backup, the one that holds it is left alone', async () => {
    const fake = recording({
      listCopies: async () => partialCopies.slice(0, 2),
      copyBackupToStorage: async (input) => ({ storageName: input.storageName, status: 'complete', sizeBytes: 900 }),
      settleBackup: async () => ({ status: 'partial' }),
    });
    const outcome = await platform.execute(fake, replicateBackupWorkflow, {
      database: 'app',
      backupId: REPLICATED,
      storages: ['added', 'a', 'added'],
    });
    assert.deepEqual(fake.named('copyBackupToStorage'), [
      { database: 'app', backupId: REPLICATED, storageName: 'added' },
    ]);
    assert.equal(outcome.status, 'partial', 'b still misses it: the workflow says what the catalog settled');
    assert.deepEqual(
      outcome.copies.map((c) => `${c.storageName}: ${c.status}`),
      ['a: complete', 'b: failed', 'added: complete'],
    );
  });

  test('an empty storages list is refused before anything runs', async () => {
    const fake = recording({ listCopies: async () => partialCopies });
    const failure = await failureOf(
      platform.execute(fake, replicateBackupWorkflow, { database: 'app', backupId: REPLICATED, storages: [] }),
    );
    assert.equal(failure.type, 'bad_input');
    assert.match(failure.message, /storages must name at least one storage, or be left out/);
    assert.equal(callOrder(fake), '');
  });

  test('a backup with no complete copy anywhere fails at once, copying nothing', async () => {
    const fake = recording({ listCopies: async () => partialCopies.slice(1) });
    const failure = await failureOf(
      platform.execute(fake, replicateBackupWorkflow, { database: 'app', backupId: REPLICATED }),
    );
    assert.equal(failure.message, `backup ${REPLICATED} has no complete copy in any storage to copy from`);
    assert.equal(failure.type, 'not_found');
    assert.equal(callOrder(fake), 'listCopies');
  });
});

const plan = {
  keep: [{ id: 'b3', reasons: ['daily'] }],
  delete: [
    { id: 'b1', reason: 'beyond 7 daily' },
    { id: 'b2', reason: 'beyond 7 daily' },
  ],
  keepBaseBackups: [],
  deleteBaseBackups: [],
  deleteWalBefore: null,
  summary: 'keep 1, delete 2',
};

describe('gfsRetention with time skipping', () => {
  const prune = (dryRun: boolean, refused: string[]) => {
    const fake = recording({
      planRetentionFor: async () => plan,
      deleteBackupEverywhere: async (input) =>
        refused.includes(input.backupId) ? { deleted: false, why: 'a restore reads it' } : { deleted: true },
    });
    const outcome = platform.execute(fake, gfsRetentionWorkflow, { database: 'app', dryRun });
    return { fake, outcome };
  };

  test('deletes what the plan says, and reports a backup the deletion-time check kept', async () => {
    const { fake, outcome } = prune(false, ['b2']);
    const result = await outcome;
    assert.deepEqual(fake.named('deleteBackupEverywhere'), [
      { database: 'app', backupId: 'b1', reason: 'beyond 7 daily' },
      { database: 'app', backupId: 'b2', reason: 'beyond 7 daily' },
    ]);
    assert.deepEqual(result.deleted, ['b1']);
    assert.deepEqual(result.skipped, [{ id: 'b2', why: 'a restore reads it' }]);
    assert.equal(result.kept, 1);
  });

  test('a dry run plans and deletes nothing', async () => {
    const { fake, outcome } = prune(true, []);
    const result = await outcome;
    assert.equal(fake.named('deleteBackupEverywhere').length, 0);
    assert.deepEqual(result.deleted, []);
    assert.equal(result.summary, 'keep 1, delete 2');
  });
});
