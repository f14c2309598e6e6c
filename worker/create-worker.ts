import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerInterceptors, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ProgressSink } from '../activities/index.ts';
import { hindsightActivityInterceptor } from '../activities/interceptor.ts';
import type { VerificationBudget } from '../activities/verification.ts';
import { createDumpRunner, dataPlaneMode, type DumpRunner } from '../lib/dataplane/index.ts';
import type { Logger } from '../lib/logger.ts';
import { createSandboxDriver, type SandboxDriver } from '../lib/sandbox/index.ts';
import type { Runtime } from '../services/runtime.ts';
import { hindsightDataConverter } from '../temporal/client.ts';
import { temporalTls } from '../temporal/tls.ts';
import { signalVerifier, wakeDelivery } from '../temporal/start.ts';
import { VERIFY_TASK_QUEUE_SUFFIX, agentTaskQueue } from '../temporal/contracts/common.ts';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** What the verification agent may use: `--max-cpu`, `--max-ram-mb`, `--max-disk-gb`, `--max-concurrent-jobs`. */
export interface AgentBudget {
  maxCpu: number;
  maxRamMb: number;
  maxDiskGb: number;
  maxConcurrentJobs?: number | undefined;
  sandboxRoot: string;
}

export function defaultBudget(sandboxRoot: string): AgentBudget {
  return {
    maxCpu: os.availableParallelism(),
    maxRamMb: Math.floor(os.totalmem() / 1024 / 1024 / 2),
    maxDiskGb: 50,
    sandboxRoot,
  };
}

/** Each sandbox gets at least one CPU and 512 MB; the explicit job limit can only lower that. */
export function concurrencyFor(budget: AgentBudget): number {
  const byResources = Math.min(Math.floor(budget.maxCpu), Math.floor(budget.maxRamMb / 512));
  return Math.max(1, Math.min(byResources, budget.maxConcurrentJobs ?? Number.POSITIVE_INFINITY));
}

/** How long a stopping worker lets running activities finish before it cancels them (they then retry elsewhere). */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 30;

export interface WorkerRoles {
  /** Workflows and backup/restore activities on the main task queue. */
  main: boolean;
  /** Sandboxed restore verification on `<queue>-verify`. */
  verify: boolean;
  /** Host-bound activities (WAL streaming, base backups, restores into a directory) on `agent/<name>`. */
  agent?: string | undefined;
}

export interface HindsightWorkerOptions {
  overrides?: Partial<WorkerOptions>;
  roles?: WorkerRoles;
  budget?: AgentBudget;
  shutdownGraceSeconds?: number;
  /** Run around Hindsight's own activity interceptor, so that they see the failures it translates. */
  interceptors?: WorkerInterceptors;
  /** The driver verification sandboxes come from; default: the one createSandboxDriver chooses (HINDSIGHT_SANDBOX_DRIVER). */
  sandboxes?: SandboxDriver;
}

/** The worker's connection for polling, and a client for what activities start and signal. */
async function connectToTemporal(runtime: Runtime) {
  const { config } = runtime;
  const tls = temporalTls(config);
  const dataConverter = hindsightDataConverter(runtime);
  const connection = await NativeConnection.connect({ address: config.temporalAddress, ...(tls ? { tls } : {}) });
  const clientConnection = await Connection.connect({ address: config.temporalAddress, ...(tls ? { tls } : {}) });
  const client = new Client({ connection: clientConnection, namespace: config.temporalNamespace, dataConverter });
  return { connection, clientConnection, client, dataConverter };
}

function activitiesFor(
  runtime: Runtime,
  logger: Logger,
  client: Client,
  sandboxes: SandboxDriver,
  budget: AgentBudget,
  dumps: DumpRunner,
) {
  const { config } = runtime;
  const verificationBudget: VerificationBudget = {
    maxDiskBytes: budget.maxDiskGb * 1e9,
    sandboxRoot: budget.sandboxRoot,
  };
  return createActivities({
    catalog: runtime.catalog,
    keyring: runtime.keyring,
    dumps,
    checksums: config.checksums,
    logger,
    sandboxes,
    budget: verificationBudget,
    signalVerifier: (database, request) => signalVerifier(client, config.taskQueue, database, request),
    publicUrl: config.publicUrl,
    walSpoolDir: config.walSpoolDir,
    wakeDelivery: (database) => wakeDelivery(client, config.taskQueue, database),
  });
}

/** Every activity heartbeats and signals its progress, and has its errors translated, through one interceptor. */
function interceptorsFor(client: Client, logger: Logger, given: WorkerInterceptors | undefined): WorkerInterceptors {
  const progress: ProgressSink = {
    send: (workflowId, runId, signal, report) => client.workflow.getHandle(workflowId, runId).signal(signal, report),
  };
  return { ...given, activity: [...(given?.activity ?? []), hindsightActivityInterceptor({ progress, logger })] };
}

/** Sweeps what a dead verification left, says how sandboxes are confined, and sizes the agent by its budget. */
async function prepareVerification(sandboxes: SandboxDriver, budget: AgentBudget, logger: Logger): Promise<number> {
  // Sandboxes left by a worker that died mid-verification go before new ones start.
  const { removed } = await sandboxes.sweepLeftovers();
  if (removed.length > 0) logger.warn({ removed }, 'removed sandboxes left by a worker that stopped mid-verification');
  // Said once at start: an operator should learn here, not from a report, that restored dumps run unconfined.
  const confinement = await sandboxes.probeConfinement?.().catch(() => undefined);
  if (confinement) {
    const confined = confinement.confinement === 'bwrap' || confinement.confinement === 'container';
    logger[confined ? 'info' : 'warn'](confinement, 'verification sandbox confinement');
  }
  const jobs = concurrencyFor(budget);
  logger.info({ jobs, ...budget }, 'verification agent budget');
  return jobs;
}

/**
 * An agent records the recipients whose identities it holds (HINDSIGHT_IDENTITY_FILES), public keys
 * only, so that the verification of public-key mode backups encrypted for them comes to its queue.
 */
async function advertiseIdentities(runtime: Runtime, agent: string, logger: Logger): Promise<void> {
  const recipients = runtime.keyring.identities().map((i) => i.recipient);
  await runtime.catalog.agentRecipients.advertise(agent, recipients);
  if (recipients.length > 0) logger.info({ agent, recipients }, 'agent holds the private keys of these recipients');
}

/**
 * The worker program's Temporal workers: the main one (every workflow, backups and restores) and
 * the verification agent (sandboxes, on its own task queue so that its budget is its own).
 */
export async function createHindsightWorker(runtime: Runtime, logger: Logger, options: HindsightWorkerOptions = {}) {
  const { config } = runtime;
  const roles = options.roles ?? { main: true, verify: true };
  const budget = options.budget ?? defaultBudget(config.sandboxRoot);
  const { connection, clientConnection, client, dataConverter } = await connectToTemporal(runtime);
  const sandboxes =
    options.sandboxes ??
    (await createSandboxDriver({ root: budget.sandboxRoot, cpus: budget.maxCpu, memoryMb: budget.maxRamMb, logger }));
  // Which driver `auto` took decides what a restored dump can reach: an operator reads it here first.
  logger.info({ driver: sandboxes.name }, 'verification sandbox driver');
  // One data plane per worker process, whatever its roles; a worker that takes backups starts its thread now.
  const dumps = createDumpRunner(dataPlaneMode(), logger);
  if (roles.main) dumps.warm?.();
  const common = {
    connection,
    namespace: config.temporalNamespace,
    activities: activitiesFor(runtime, logger, client, sandboxes, budget, dumps),
    dataConverter,
    // SIGTERM drains: polling stops, running activities get this long, then are cancelled and clean up.
    shutdownGraceTime: `${options.shutdownGraceSeconds ?? DEFAULT_SHUTDOWN_GRACE_SECONDS} seconds` as const,
    interceptors: interceptorsFor(client, logger, options.interceptors),
  };
  const workers: Worker[] = [];
  if (roles.main) {
    // One dump at a time per core keeps memory bounded and leaves room for the server.
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: config.taskQueue,
        // A bundle built ahead (tests share one per state of the sources) replaces bundling here.
        ...(options.overrides?.workflowBundle ? {} : { workflowsPath }),
        maxConcurrentActivityTaskExecutions: 4,
        // The SDK's default sizes the cache by the heap limit (2,310 workflows at a 4 GiB heap, about
        // 3.4 GiB of cached state): a bound sized for the long-lived workflows keeps the worker's
        // memory flat, and a workflow pushed out is only replayed at its next task.
        maxCachedWorkflows: config.workerMaxCachedWorkflows,
        ...options.overrides,
      }),
    );
  }
  if (roles.verify) {
    const jobs = await prepareVerification(sandboxes, budget, logger);
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: `${config.taskQueue}${VERIFY_TASK_QUEUE_SUFFIX}`,
        maxConcurrentActivityTaskExecutions: jobs,
      }),
    );
  }
  if (roles.agent) {
    await advertiseIdentities(runtime, roles.agent, logger);
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: agentTaskQueue(roles.agent),
        maxConcurrentActivityTaskExecutions: 4,
      }),
    );
  }
  return {
    workers,
    run: () => Promise.all(workers.map((w) => w.run())).then(() => undefined),
    shutdown: () => workers.forEach((w) => w.shutdown()),
    async close() {
      await dumps.close();
      await connection.close();
      await clientConnection.close();
    },
  };
}
