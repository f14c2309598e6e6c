import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { hindsightActivityInterceptor } from '../../activities/interceptor.ts';
import { progressReporter, type ProgressSink } from '../../activities/progress.ts';
import { HindsightError, type ErrorKind } from '../../lib/errors.ts';
import { PROGRESS_SIGNAL } from '../../temporal/contracts/common.ts';

type Sent = { workflowId: string; runId: string; signal: string; report: object };

/** An activity environment with Hindsight's interceptor, as the worker registers it; the SDK's own log lines are dropped. */
function environment(sink?: ProgressSink) {
  const env = new MockActivityEnvironment(undefined, {
    interceptors: [hindsightActivityInterceptor({ progress: sink })],
    logger: new DefaultLogger('ERROR', () => undefined),
  });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  return { env, heartbeats };
}

async function failureOf(work: () => Promise<unknown>, sink?: ProgressSink): Promise<unknown> {
  const { env } = environment(sink);
  try {
    await env.run(work);
  } catch (error) {
    return error;
  }
  assert.fail('the activity was expected to fail');
}

const thrower = (error: unknown) => async () => {
  throw error;
};

describe('the activity interceptor', () => {
  it('makes a HindsightError a failure of its kind, permanent unless the kind is worth a retry', async () => {
    const permanent: ErrorKind[] = [
      'bad_input',
      'not_found',
      'access_denied',
      'no_space',
      'integrity',
      'conflict',
      'forbidden',
      'rate_limited',
    ];
    for (const kind of [...permanent, 'unreachable', 'busy', 'tool_failed'] as ErrorKind[]) {
      const failure = await failureOf(thrower(new HindsightError(kind, `backup b-1 of "shop": ${kind}`)));
      assert.ok(failure instanceof ApplicationFailure, kind);
      assert.equal(failure.type, kind);
      assert.equal(failure.message, `backup b-1 of "shop": ${kind}`);
      assert.equal(failure.nonRetryable, permanent.includes(kind), `${kind} nonRetryable`);
    }
  });

  it('lets an ApplicationFailure through untouched', async () => {
    const own = ApplicationFailure.nonRetryable('restored data differs', 'verification_failed');
    assert.equal(await failureOf(thrower(own)), own);
  });

  it('makes any other error a retryable failure of type unexpected that keeps its message', async () => {
    const pgError = Object.assign(new Error('connection terminated unexpectedly'), { code: '57P01' });
    for (const [thrown, message] of [
      [pgError, 'connection terminated unexpectedly'],
      ['a bare string', 'a bare string'],
    ] as const) {
      const failure = await failureOf(thrower(thrown));
      assert.ok(failure instanceof ApplicationFailure);
      assert.deepEqual([failure.type, failure.message, failure.nonRetryable], ['unexpected', message, false]);
    }
  });

  it('reports a cancelled activity as cancelled, whatever its pipeline threw', async () => {
    const { env } = environment();
    env.cancel();
    const broken = new HindsightError('tool_failed', 'pg_dump was killed');
    await assert.rejects(env.run(thrower(broken)), (error: unknown) => {
      assert.ok(error instanceof CancelledFailure);
      assert.equal(error.message, 'cancelled by request');
      assert.equal(error.cause, broken);
      return true;
    });
  });

  it('returns what the activity returns', async () => {
    const { env } = environment();
    assert.deepEqual(await env.run(async (n: number) => ({ doubled: n * 2 }), 21), { doubled: 42 });
  });

  it('heartbeats every report and signals the workflow at most every interval, at once when the state changes', async () => {
    const sent: Sent[] = [];
    const sink: ProgressSink = {
      send: async (workflowId, runId, signal, report) => {
        sent.push({ workflowId, runId, signal, report });
      },
    };
    const { env, heartbeats } = environment(sink);
    await env.run(async () => {
      const report = progressReporter(60_000);
      report({ bytes: 1 });
      report({ bytes: 2 });
      report({ bytes: 3, state: 'streaming' });
      report({ bytes: 4, state: 'streaming' });
    });
    assert.deepEqual(heartbeats, [
      { bytes: 1 },
      { bytes: 2 },
      { bytes: 3, state: 'streaming' },
      { bytes: 4, state: 'streaming' },
    ]);
    assert.deepEqual(
      sent.map((s) => s.report),
      [{ bytes: 1 }, { bytes: 3, state: 'streaming' }],
    );
    assert.deepEqual(
      sent.map((s) => [s.workflowId, s.signal]),
      [
        ['test', PROGRESS_SIGNAL],
        ['test', PROGRESS_SIGNAL],
      ],
    );
  });

  it('never fails an activity because a progress signal was lost', async () => {
    const sink: ProgressSink = { send: () => Promise.reject(new Error('workflow not found')) };
    const { env, heartbeats } = environment(sink);
    assert.equal(
      await env.run(async () => {
        progressReporter()({ bytes: 1 });
        await new Promise((resolve) => setImmediate(resolve));
        return 'done';
      }),
      'done',
    );
    assert.equal(heartbeats.length, 1);
  });

  it('without the interceptor, progress is heartbeats only', async () => {
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR', () => undefined) });
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => heartbeats.push(details));
    await env.run(async () => progressReporter()({ bytes: 7 }));
    assert.deepEqual(heartbeats, [{ bytes: 7 }]);
  });
});
