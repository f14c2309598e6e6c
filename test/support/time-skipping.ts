/**
 * Workflow tests against Temporal's time-skipping test server: the real workflow code in the real
 * sandbox, with activities replaced by recording fakes, and timers that fire as soon as every
 * worker is idle. An hour-long interval costs nothing, so each branch of a workflow gets its own test.
 *
 * The server is the Java build that scripts/setup-test-server.sh puts into .temporal-test-server/
 * (the SDK's own download is served by no registry). Payloads go through the real Hindsight data
 * converter (encrypted, failures encoded) with a key made for the run.
 */
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Activities } from '../../activities/index.ts';
import { generateSecretKey } from '../../lib/crypto/secret-key.ts';
import { hindsightDataConverter } from '../../temporal/client.ts';
import { VERIFY_TASK_QUEUE_SUFFIX } from '../../temporal/contracts/common.ts';
import { workflowsPath } from '../../worker/create-worker.ts';

export const testServerPath = fileURLToPath(new URL('../../.temporal-test-server/bin/temporal-test-server', import.meta.url));

/** One call an activity fake received: its name and its input, as the workflow sent them. */
export type ActivityCall = { name: string; input: unknown };
export type FakeActivities = Partial<{ [K in keyof Activities]: (input: Parameters<Activities[K]>[0]) => Promise<Awaited<ReturnType<Activities[K]>>> }>;

/** Wraps fakes so that every call is recorded in order before the fake answers. */
export function recording(fakes: FakeActivities): { activities: Record<string, (input: unknown) => Promise<unknown>>; calls: ActivityCall[]; named: (name: keyof Activities) => unknown[] } {
  const calls: ActivityCall[] = [];
  const activities: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [name, fake] of Object.entries(fakes) as Array<[string, (input: unknown) => Promise<unknown>]>) {
    activities[name] = async (input: unknown) => {
      calls.push({ name, input });
      return fake(input);
    };
  }
  return { activities, calls, named: (name) => calls.filter((c) => c.name === name).map((c) => c.input) };
}

export type TimeSkippingPlatform = {
  env: TestWorkflowEnvironment;
  /**
   * Runs a worker on a fresh task queue while `body` drives workflows there; with `verifyQueue`, a
   * second one serves the activities of the verification queue (restoreVerifier sends them there).
   */
  withWorker: <T>(activities: Record<string, (input: unknown) => Promise<unknown>>, body: (taskQueue: string) => Promise<T>, options?: { verifyQueue?: boolean }) => Promise<T>;
  stop: () => Promise<void>;
};

/**
 * The SDK waits 5 s for the server to listen, which a JVM on a loaded machine can miss: a start
 * that timed out is tried again (the second start finds its classes in the page cache).
 */
async function createEnvironment(dataConverter: ReturnType<typeof hindsightDataConverter>): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path: testServerPath } },
        client: { dataConverter },
      });
    } catch (error) {
      if (attempt >= 3 || !/did not start within/.test(String(error))) throw error;
    }
  }
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

export async function startTimeSkipping(): Promise<TimeSkippingPlatform> {
  if (!existsSync(testServerPath)) {
    throw new Error(`${testServerPath} is missing: run scripts/setup-test-server.sh (or scripts/setup.sh) first`);
  }
  // The SDK's INFO lines (bundle sizes, worker state changes) would drown the test report, and the
  // test server advertises fewer capabilities than a real one, which the SDK core warns about on
  // every worker start: only errors are shown.
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
  } catch { /* installed by an earlier start in this process */ }
  const dataConverter = hindsightDataConverter({ key: generateSecretKey(), previousKeys: [] });
  const env = await createEnvironment(dataConverter);
  // One bundle per process: building it takes seconds, every worker of the file shares it.
  bundle ??= bundleWorkflowCode({ workflowsPath, failureConverterPath: dataConverter.failureConverterPath, logger: new DefaultLogger('WARN') });
  const workflowBundle = await bundle;
  return {
    env,
    async withWorker(activities, body, options) {
      const taskQueue = `wf-${randomUUID()}`;
      const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default', activities, dataConverter };
      const main = await Worker.create({ ...common, taskQueue, workflowBundle });
      let result: Awaited<ReturnType<typeof body>> | undefined;
      const run = main.runUntil(async () => { result = await body(taskQueue); });
      if (options?.verifyQueue) {
        const verify = await Worker.create({ ...common, taskQueue: `${taskQueue}${VERIFY_TASK_QUEUE_SUFFIX}` });
        await verify.runUntil(run);
      } else {
        await run;
      }
      return result as Awaited<ReturnType<typeof body>>;
    },
    stop: () => env.teardown(),
  };
}
