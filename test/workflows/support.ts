/**
 * Workflow tests against Temporal's time-skipping test server: the real workflow code in the real
 * sandbox, with activities replaced by recording fakes, and timers that fire as soon as every
 * worker is idle. An hour-long interval costs nothing, so each branch of a workflow gets its own test.
 * The activities are fakes because what is tested is the workflow's branching; the real activities
 * are covered by test/integration/.
 *
 * The server is the Java build that scripts/setup-test-server.sh puts into .temporal-test-server/
 * (the SDK's own download is served by no registry). Payloads go through the real Hindsight data
 * converter (encrypted, failures encoded) with a key made for the run.
 *
 * One server and one worker serve a whole test file: starting a JVM, bundling the workflows and
 * loading the bundle into a worker cost seconds each, a test's run well under one. The worker's
 * activities (every one the real worker has) hand each call to the fakes of the test that is
 * running (tests of a file run one after another); a call that reaches no test fails the workflow
 * at once instead of hanging. A file calls timeSkippingPlatform() once and writes its tests with
 * test(); the fakes are in fakes.ts, the helpers that drive one run in runs.ts.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities/index.ts';
import { generateSecretKey } from '../../lib/crypto/secret-key.ts';
import { hindsightDataConverter } from '../../temporal/client.ts';
import { VERIFY_TASK_QUEUE_SUFFIX, agentTaskQueue, type WorkflowContract } from '../../temporal/contracts/common.ts';
import { cachedWorkflowBundle } from '../support/workflow-bundle.ts';
import type { AnyActivity, Recording } from './fakes.ts';

export const testServerPath = fileURLToPath(
  new URL('../../.temporal-test-server/bin/temporal-test-server', import.meta.url),
);

/** Every test's own limit: a workflow that waits for something that never comes fails its test, never the run. */
const TEST_TIMEOUT = { timeout: 30_000 };

/**
 * A workflow test: node:test's `it`, with the limit every workflow test has. Like `it` inside a
 * `describe`, it registers the test; the runner reports its outcome, so its promise is not awaited.
 */
export function test(name: string, body: () => Promise<void>): void {
  void it(name, TEST_TIMEOUT, body);
}

type Workflow<I, O> = (input: I) => Promise<O>;
export type Handle<I, O> = WorkflowHandle<Workflow<I, O>>;

/** What a test's body gets: starts by contract on the file's task queue, each run ended with the test. */
export interface Jobs {
  taskQueue: string;
  start<I, O>(contract: WorkflowContract<I, O>, input: I, workflowId?: string): Promise<Handle<I, O>>;
  /** The handle of a run the workflow itself started (a child), to await or query. */
  handle<I, O>(contract: WorkflowContract<I, O>, workflowId: string): Handle<I, O>;
}

export interface WorkflowTestPlatform {
  env: TestWorkflowEnvironment;
  /** Runs one workflow to its end with these fakes and returns its outcome (or its failure). */
  execute<I, O>(fake: Recording, contract: WorkflowContract<I, O>, input: I, workflowId?: string): Promise<O>;
  /** Runs `body` with these fakes; any run it started that is still open afterwards is terminated. */
  run<T>(fake: Recording, body: (jobs: Jobs) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * The SDK waits 5 s for the server to listen, which a JVM on a loaded machine can miss: a start
 * that timed out is tried again (the second start finds its classes in the page cache).
 */
async function createEnvironment(
  dataConverter: ReturnType<typeof hindsightDataConverter>,
): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: testServerPath } },
        client: { dataConverter },
      });
    } catch (error) {
      if (attempt >= 5 || !/did not start within/.test(String(error))) throw error;
    }
  }
}

function quietRuntime(): void {
  // The SDK's INFO lines (bundle sizes, worker state changes) would drown the test report, and the
  // test server advertises fewer capabilities than a real one, which the SDK core warns about on
  // every worker start: only errors are shown.
  try {
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    /* installed by an earlier start in this process */
  }
}

/**
 * The worker's activities: every activity the real worker has, by name (the factory only closes
 * over its dependencies, so none are needed to read the names), each call going to the running
 * test's fake of that name.
 */
function dispatching(current: () => Recording | undefined): Record<string, AnyActivity> {
  const activities: Record<string, AnyActivity> = {};
  for (const name of Object.keys(createActivities({} as ActivityDeps))) {
    activities[name] = async (input) => {
      const fake = current()?.activities[name];
      if (fake) return fake(input);
      const why = `activity ${name} was called with no fake for it (outside a test, or the test gave none)`;
      throw ApplicationFailure.nonRetryable(why, 'no_fake');
    };
  }
  return activities;
}

/**
 * Terminates a run the test left open. The test server stops skipping time for good when a run is
 * terminated while one of its activities or workflow tasks is in flight, so the run is first let
 * settle: with no result awaited, time stands still and a loop comes to rest in its next timer.
 */
async function endRun(handle: Handle<unknown, unknown>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { status, raw } = await handle.describe();
    if (status.name !== 'RUNNING') return;
    if ((raw.pendingActivities ?? []).length === 0 && !raw.pendingWorkflowTask) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await handle.terminate('the test ended').catch(() => undefined);
}

/** Which workers serve activities beside the main one. */
export interface PlatformOptions {
  /** A worker on the verification queue too (restoreVerifier sends its sandbox work there). */
  verifyQueue?: boolean;
  /** A worker on each of these agents' queues. */
  agents?: string[];
}

/** Starts the server and one worker for a test file, and one more on each activity queue the options name. */
export async function startTimeSkipping(options: PlatformOptions = {}): Promise<WorkflowTestPlatform> {
  if (!existsSync(testServerPath)) {
    throw new Error(`${testServerPath} is missing: run scripts/setup-test-server.sh (or scripts/setup.sh) first`);
  }
  quietRuntime();
  const dataConverter = hindsightDataConverter({ key: generateSecretKey(), previousKeys: [] });
  // One after the other: the server must listen within 5 s, which a JVM sharing the CPU with webpack can miss.
  const env = await createEnvironment(dataConverter);
  const bundle = await cachedWorkflowBundle(dataConverter.failureConverterPath);
  let current: Recording | undefined;
  const taskQueue = `wf-${randomUUID()}`;
  const common: Omit<WorkerOptions, 'taskQueue'> = {
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    dataConverter,
    activities: dispatching(() => current),
    // A cancellation reaches an activity with a heartbeat's answer: heartbeats go out at once, not
    // every 0.8 × the heartbeat timeout, so that an abort takes milliseconds.
    maxHeartbeatThrottleInterval: '10 ms',
    defaultHeartbeatThrottleInterval: '10 ms',
    shutdownForceTime: '5 s',
  };
  const workers = [await Worker.create({ ...common, taskQueue, workflowBundle: bundle })];
  const activityQueues = [
    ...(options.verifyQueue ? [`${taskQueue}${VERIFY_TASK_QUEUE_SUFFIX}`] : []),
    ...(options.agents ?? []).map(agentTaskQueue),
  ];
  for (const queue of activityQueues) workers.push(await Worker.create({ ...common, taskQueue: queue }));
  const running = workers.map((w) => w.run());

  const run = async <T>(fake: Recording, body: (jobs: Jobs) => Promise<T>): Promise<T> => {
    if (current) {
      throw new Error('a workflow test is already running: the tests of one file share a worker and run one at a time');
    }
    current = fake;
    const started: Array<Handle<unknown, unknown>> = [];
    const jobs: Jobs = {
      taskQueue,
      async start(contract, input, workflowId = `${contract.type}-${randomUUID()}`) {
        const options = { taskQueue, workflowId, args: [input] as [typeof input] };
        const handle = await env.client.workflow.start<Workflow<typeof input, never>>(contract.type, options);
        started.push(handle as Handle<unknown, unknown>);
        return handle;
      },
      handle: <I, O>(_contract: WorkflowContract<I, O>, workflowId: string) =>
        env.client.workflow.getHandle<Workflow<I, O>>(workflowId),
    };
    try {
      return await body(jobs);
    } finally {
      await Promise.all(started.map(endRun));
      current = undefined;
    }
  };
  return {
    env,
    run,
    execute: (fake, contract, input, workflowId) =>
      run(fake, async (jobs) => (await jobs.start(contract, input, workflowId)).result()),
    async stop() {
      for (const worker of workers) worker.shutdown();
      await Promise.all(running);
      await env.teardown();
    },
  };
}

/**
 * The platform of a test file: started before its first test and stopped after its last, by hooks
 * this registers. Tests reach it through the object returned, which serves once the hooks ran.
 */
export function timeSkippingPlatform(options: PlatformOptions = {}): WorkflowTestPlatform {
  let started: WorkflowTestPlatform | undefined;
  before(async () => {
    started = await startTimeSkipping(options);
  });
  after(async () => {
    await started?.stop();
  });
  const platform = (): WorkflowTestPlatform => {
    if (!started) throw new Error('the workflow test platform is used before its file started it (outside a test)');
    return started;
  };
  return {
    get env() {
      return platform().env;
    },
    execute: (fake, contract, input, workflowId) => platform().execute(fake, contract, input, workflowId),
    run: (fake, body) => platform().run(fake, body),
    stop: () => platform().stop(),
  };
}
