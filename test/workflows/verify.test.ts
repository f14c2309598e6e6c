import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { VERIFY_TASK_QUEUE_SUFFIX, agentTaskQueue } from '../../temporal/contracts/common.ts';
import {
  backupCompletedSignal,
  lastVerificationQuery,
  restoreVerifierWorkflow,
  scheduledVerificationWorkflow,
  type RestoreVerifierInput,
  type VerifyRequest,
} from '../../temporal/contracts/verify.ts';
import { failsWith, type FakeActivities, held, recording, runsUntilCancelled, servingQueue } from './fakes.ts';
import { eventually, failureOf, interrupted } from './runs.ts';
import { test, timeSkippingPlatform } from './support.ts';

/** Restore verification: the per-database verifier, and the scheduled run that feeds it. */
const platform = timeSkippingPlatform({ verifyQueue: true, agents: ['key-holder'] });

const request = (n: number): VerifyRequest => ({
  verificationId: `v-20260101t0000-00000${n}`,
  backupId: `20260101T000000Z-f0000${n}`,
  trigger: 'backup',
});
const verified = { status: 'successful' as const, reason: null, finishedAt: '2026-01-01T01:00:00.000Z' };

/** A verifier whose sandbox answers `verified` and records the queue that served it. */
function verifierOf(overrides: FakeActivities = {}) {
  const queues: string[] = [];
  const fake = recording({
    verifyBackupInSandbox: async () => {
      queues.push(servingQueue());
      return verified;
    },
    finishVerification: async () => undefined,
    verificationAgent: async () => ({ agent: null }),
    ...overrides,
  });
  return { ...fake, queues };
}

describe('restoreVerifier with time skipping', () => {
  test('verifies a request carried over a continue-as-new in a sandbox on the verification queue', async () => {
    const fake = verifierOf();
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(
        restoreVerifierWorkflow,
        { database: 'app', pending: request(1) },
        'verify/app-carried',
      );
      await eventually(
        async () => (await handle.query(lastVerificationQuery)).last !== null,
        'the carried verification',
      );
      const state = await handle.query(lastVerificationQuery);
      assert.deepEqual(state.last, {
        verificationId: request(1).verificationId,
        backupId: request(1).backupId,
        ...verified,
      });
      assert.deepEqual([state.running, state.pending, state.superseded], [null, null, 0]);
    });
    assert.deepEqual(fake.named('verifyBackupInSandbox'), [
      { database: 'app', ...request(1), workflowId: 'verify/app-carried' },
    ]);
    assert.equal(fake.queues.length, 1);
    assert.ok(
      fake.queues[0]!.endsWith(VERIFY_TASK_QUEUE_SUFFIX),
      `served by the verification queue, not ${fake.queues[0]}`,
    );
    assert.equal(fake.named('finishVerification').length, 0, 'a verification that ran is recorded by its activity');
  });

  test('sends the verification of a backup whose key an agent holds to that agent', async () => {
    const fake = verifierOf({ verificationAgent: async () => ({ agent: 'key-holder' }) });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(
        restoreVerifierWorkflow,
        { database: 'vault', pending: request(1) },
        'verify/vault-routed',
      );
      await eventually(async () => (await handle.query(lastVerificationQuery)).last !== null, 'the verification');
    });
    assert.deepEqual(fake.named('verificationAgent'), [{ database: 'vault', backupId: request(1).backupId }]);
    assert.deepEqual(fake.queues, [agentTaskQueue('key-holder')]);
  });

  test('latest wins: a request waiting behind a running one is superseded by a newer one', async () => {
    const first = held(verified);
    let calls = 0;
    const fake = verifierOf({ verifyBackupInSandbox: async (input) => (++calls === 1 ? first.fake(input) : verified) });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(restoreVerifierWorkflow, { database: 'app' });
      await handle.signal(backupCompletedSignal, request(1));
      await first.started;
      await handle.signal(backupCompletedSignal, request(2));
      await handle.signal(backupCompletedSignal, request(1));
      await handle.signal(backupCompletedSignal, request(3));
      const waiting = await handle.query(lastVerificationQuery);
      assert.deepEqual(
        [waiting.running?.verificationId, waiting.pending?.verificationId],
        [request(1).verificationId, request(3).verificationId],
      );
      first.release();
      await eventually(
        async () => (await handle.query(lastVerificationQuery)).last?.verificationId === request(3).verificationId,
        'the newest verification',
      );
      assert.equal((await handle.query(lastVerificationQuery)).superseded, 1);
    });
    assert.deepEqual(
      (fake.named('verifyBackupInSandbox') as VerifyRequest[]).map((r) => r.verificationId),
      [request(1).verificationId, request(3).verificationId],
      'the duplicate signal of the running request is ignored',
    );
    assert.deepEqual(fake.named('finishVerification'), [
      {
        verificationId: request(2).verificationId,
        status: 'superseded',
        reason: `superseded by the verification of backup ${request(3).backupId}, which was requested while backup ${request(2).backupId} waited`,
      },
    ]);
  });

  test('a sandbox that keeps failing is recorded failed after three tries, and the verifier waits for the next request', async () => {
    const fake = verifierOf({
      verifyBackupInSandbox: failsWith('no PostgreSQL 16 server binaries on the agent', 'tool_failed'),
    });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(restoreVerifierWorkflow, { database: 'app', pending: request(4) });
      // The retries' back-off (10 s, then 20 s) passes on the server's clock.
      await platform.env.sleep('1 minute');
      await eventually(() => fake.named('finishVerification').length === 1, 'the failure recorded');
      const state = await handle.query(lastVerificationQuery);
      assert.deepEqual([state.last?.status, state.running], ['failed', null]);
      assert.equal((await handle.describe()).status.name, 'RUNNING');
    });
    assert.equal(fake.named('verifyBackupInSandbox').length, 3);
    assert.deepEqual(fake.named('finishVerification'), [
      {
        verificationId: request(4).verificationId,
        status: 'failed',
        reason: 'the verification could not run: no PostgreSQL 16 server binaries on the agent',
      },
    ]);
  });

  test('a cancelled verifier cancels the running verification, records it cancelled and ends cancelled', async () => {
    const sandbox = runsUntilCancelled();
    const fake = verifierOf({ verifyBackupInSandbox: sandbox.fake });
    const input: RestoreVerifierInput = { database: 'app', pending: request(5) };
    const { failure } = await interrupted(platform, fake, sandbox, [restoreVerifierWorkflow, input], (handle) =>
      handle.cancel(),
    );
    assert.ok(failure instanceof CancelledFailure, `the run ended cancelled: ${String(failure)}`);
    assert.deepEqual(fake.named('finishVerification'), [
      { verificationId: request(5).verificationId, status: 'cancelled', reason: 'cancelled' },
    ]);
  });
});

describe('scheduledVerification with time skipping', () => {
  test('asks for a verification of the newest backup, as the schedule', async () => {
    const fake = recording({ requestVerification: async () => ({ verificationId: 'v-20260101t0000-000009' }) });
    const outcome = await platform.execute(fake, scheduledVerificationWorkflow, { database: 'app' });
    assert.deepEqual(outcome, { verificationId: 'v-20260101t0000-000009' });
    assert.deepEqual(fake.named('requestVerification'), [{ database: 'app', trigger: 'schedule' }]);
  });

  test('a database with no backup to verify fails the run with the reason, untried again', async () => {
    const fake = recording({
      requestVerification: failsWith('database "app" has no complete backup to verify', 'not_found'),
    });
    const failure = await failureOf(platform.execute(fake, scheduledVerificationWorkflow, { database: 'app' }));
    assert.match(
      String((failure.cause as Error | undefined)?.message),
      /database "app" has no complete backup to verify/,
    );
    assert.equal(fake.named('requestVerification').length, 1);
  });
});
