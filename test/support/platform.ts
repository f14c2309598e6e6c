import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { TestWorkflowEnvironment, type LocalTestWorkflowEnvironmentOptions } from '@temporalio/testing';
import { DefaultLogger, Runtime as TemporalRuntime } from '@temporalio/worker';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../lib/config.ts';
import { createLogger, type Logger } from '../../lib/logger.ts';
import { openLocalCluster, type LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, quoteIdent, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { systemActor } from '../../services/authz.ts';
import { createServices, type Services } from '../../services/index.ts';
import { actorOps, type ActorOps } from './actor-ops.ts';
import { openRuntime, type Runtime } from '../../services/runtime.ts';
import { hindsightDataConverter } from '../../temporal/client.ts';
import { temporalCliPath } from '../../temporal/dev-server.ts';
import { hindsightSearchAttributes } from '../../temporal/search-attributes.ts';
import { createHindsightWorker } from '../../worker/create-worker.ts';
import { cachedWorkflowBundle } from './workflow-bundle.ts';
import { createSandboxDriver, type SandboxPreference } from '../../lib/sandbox/index.ts';
import { freePort } from './ports.ts';

let runtimeInstalled = false;
function quietTemporalRuntime(logger?: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  if (!logger) {
    TemporalRuntime.install({ logger: new DefaultLogger('WARN') });
    return;
  }
  // As worker/main.ts does: the SDK's own lines go through the worker's logger and its redaction.
  TemporalRuntime.install({
    logger: {
      log: (level, message, meta) =>
        logger[level === 'ERROR' ? 'error' : level === 'WARN' ? 'warn' : 'debug'](meta ?? {}, message),
      trace: (m, meta) => logger.trace(meta ?? {}, m),
      debug: (m, meta) => logger.debug(meta ?? {}, m),
      info: (m, meta) => logger.debug(meta ?? {}, m),
      warn: (m, meta) => logger.warn(meta ?? {}, m),
      error: (m, meta) => logger.error(meta ?? {}, m),
    },
  });
}

/**
 * The project's logger (same level and redaction), its serialized lines handed to `onLine` rather
 * than written to stdout, so that a test can read exactly what an operator's log would hold.
 */
export function capturedLogger(name: string, onLine: (line: string) => void): Logger {
  const logger = createLogger(name);
  (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = { write: (line: string) => onLine(line) };
  return logger;
}

const liveClusters = new Map<string, string>();
// pg_ctl daemonizes the server: if a test process dies, stop its servers rather than leak them.
process.once('exit', () => {
  for (const [dataDir, pgCtl] of liveClusters) {
    const args = [pgCtl, 'stop', '-D', dataDir, '-m', 'immediate'];
    if (process.getuid?.() === 0)
      spawnSync('runuser', ['-u', process.env.HINDSIGHT_PG_OS_USER ?? 'postgres', '--', ...args], { stdio: 'ignore' });
    else spawnSync(args[0]!, args.slice(1), { stdio: 'ignore' });
  }
});

/**
 * A throwaway PostgreSQL server in a temp dir, tuned for speed (nothing here must survive a crash):
 * the newest installed major unless `major` asks for one (scripts/setup.sh installs 13 to 18).
 */
export async function startTestCluster(
  dir: string,
  options: { major?: number; name?: string; settings?: Record<string, string> } = {},
): Promise<LocalCluster> {
  const cluster = await openLocalCluster({
    dataDir: path.join(dir, options.name ?? 'pg'),
    ...(options.major === undefined ? {} : { major: options.major }),
    port: await freePort(),
    settings: { fsync: 'off', full_page_writes: 'off', synchronous_commit: 'off', ...options.settings },
  });
  await cluster.start();
  liveClusters.set(cluster.dataDir, cluster.pgCtlPath);
  return cluster;
}

export async function createDatabase(cluster: LocalCluster, name: string): Promise<PgTarget> {
  const admin = await connect('test server', cluster.target('postgres'));
  try {
    await admin.query(`create database ${quoteIdent(name)}`);
  } finally {
    await admin.end();
  }
  return cluster.target(name);
}

/** Database `name` on the test server, loaded with `schemaSql`. */
export async function createFilledDatabase(cluster: LocalCluster, name: string, schemaSql: string): Promise<PgTarget> {
  const target = await createDatabase(cluster, name);
  const client = await connect(name, target);
  try {
    await client.query(schemaSql);
  } finally {
    await client.end();
  }
  return target;
}

export interface Platform {
  dir: string;
  cluster: LocalCluster;
  env: TestWorkflowEnvironment;
  /** A client with Hindsight's payload codec; env.client would see only ciphertext. */
  client: Client;
  config: Config;
  configEnv: Record<string, string>;
  runtime: Runtime;
  /** The domain services, as the console, the API and the CLI use them. */
  services: Services;
  /** The services as the system actor, under their long-standing names. */
  ops: ActorOps;
  backupsDir: string;
  /** Starts the in-process worker; `stopWorker` ends it. */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Everything a backup needs, for real: a PostgreSQL server (source databases and the catalog), the
 * Temporal dev server from the temporal CLI, the catalog with its migrations, a local storage.
 */
export interface PlatformOptions {
  /** Server settings of the platform's PostgreSQL beyond the test defaults (the scale bench's max_connections). */
  pgSettings?: Record<string, string>;
  /** A fixed secret key (64 hex): recorded histories must decode with the key they were written under. */
  secretKeyHex?: string;
  /**
   * Receives every line the in-process worker logs (its logger and the Temporal SDK's, the first
   * platform of the process only) instead of stdout.
   */
  onWorkerLog?: (line: string) => void;
  /**
   * Serve the Temporal UI on this port under /temporal, its codec endpoint set, for the console to
   * serve at /temporal/ as `npm start` does (default: no UI).
   */
  temporalUi?: { port: number; codecEndpoint: string };
  /**
   * A Temporal server already running at this address (test/support/temporal-process.ts), which the
   * platform connects to and leaves running when it stops; default: a dev server of its own.
   */
  temporalAddress?: string;
}

/** The temporal CLI's dev server on `port`, with Hindsight's search attributes, and its UI when asked for. */
async function devServerOptions(
  port: number,
  options: PlatformOptions,
): Promise<LocalTestWorkflowEnvironmentOptions['server']> {
  return {
    executable: { type: 'existing-path' as const, path: await temporalCliPath() },
    ip: '127.0.0.1',
    port,
    ui: options.temporalUi !== undefined,
    ...(options.temporalUi && { uiPort: options.temporalUi.port }),
    searchAttributes: hindsightSearchAttributes,
    extraArgs: [
      '--log-level',
      'error',
      ...(options.temporalUi
        ? [
            '--ui-codec-endpoint',
            options.temporalUi.codecEndpoint,
            '--ui-public-path',
            '/temporal',
            '--ui-disable-news-fetch',
          ]
        : []),
    ],
  };
}

/**
 * Temporal's dev server on a free port. Files run side by side, and a port found free can be taken
 * by another file's server before this one binds it (the dev server then dies at start): a fresh
 * port is tried, three times at most.
 */
async function startLocalTemporal(options: PlatformOptions) {
  if (options.temporalAddress) {
    const env = await TestWorkflowEnvironment.createFromExistingServer({ address: options.temporalAddress });
    return { env, temporalPort: Number(options.temporalAddress.split(':').pop()) };
  }
  for (let attempt = 1; ; attempt += 1) {
    const temporalPort = await freePort();
    try {
      const env = await TestWorkflowEnvironment.createLocal({ server: await devServerOptions(temporalPort, options) });
      return { env, temporalPort };
    } catch (error) {
      if (attempt >= 3) throw error;
      process.stdout.write(`# Temporal dev server did not start on port ${temporalPort}; trying another port\n`);
    }
  }
}

/**
 * PostgreSQL and Temporal's dev server, started side by side: neither needs the other to start, and each spends
 * most of its start-up waiting (initdb's fsyncs, the dev server's listeners). When one fails, the other is stopped.
 */
async function startServers(dir: string, options: PlatformOptions) {
  const [cluster, temporal] = await Promise.allSettled([
    startTestCluster(dir, { ...(options.pgSettings && { settings: options.pgSettings }) }),
    startLocalTemporal(options),
  ]);
  if (cluster.status === 'fulfilled' && temporal.status === 'fulfilled')
    return { cluster: cluster.value, env: temporal.value.env, temporalPort: temporal.value.temporalPort };
  if (temporal.status === 'fulfilled') await temporal.value.env.teardown().catch(() => undefined);
  if (cluster.status === 'fulfilled') {
    await cluster.value.stop('immediate').catch(() => undefined);
    liveClusters.delete(cluster.value.dataDir);
  }
  throw cluster.status === 'rejected' ? cluster.reason : (temporal as PromiseRejectedResult).reason;
}

export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
  const workerLogger = options.onWorkerLog
    ? capturedLogger('test-worker', options.onWorkerLog)
    : createLogger('test-worker');
  quietTemporalRuntime(options.onWorkerLog ? workerLogger : undefined);
  const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-it-'));
  await chmod(dir, 0o755);
  const { cluster, env, temporalPort } = await startServers(dir, options);
  const catalogTarget = await createDatabase(cluster, 'catalog');
  const backupsDir = path.join(dir, 'backups');
  await mkdir(backupsDir, { recursive: true });
  const configEnv = {
    HINDSIGHT_DATA_DIR: path.join(dir, 'data'),
    DATABASE_URL: targetUrl(catalogTarget),
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    TEMPORAL_NAMESPACE: 'default',
    HINDSIGHT_TASK_QUEUE: `test-${randomBytes(4).toString('hex')}`,
    HINDSIGHT_SANDBOX_ROOT: path.join(dir, 'sandboxes'),
    // The same driver on every machine, Docker engine or not: the docker driver has its own suite
    // (test/docker/), and a test about `auto` sets it in its worker's environment.
    HINDSIGHT_SANDBOX_DRIVER: process.env.HINDSIGHT_SANDBOX_DRIVER ?? 'process',
    // No catalog backup a minute after each change: a test about it asks for one (hindsight catalog backup).
    HINDSIGHT_CATALOG_BACKUP_AFTER_CHANGE: '0',
    ...(options.temporalUi && { HINDSIGHT_TEMPORAL_UI_UPSTREAM: `http://127.0.0.1:${options.temporalUi.port}` }),
  };
  const config = loadConfig(configEnv);
  if (options.secretKeyHex) {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    await writeFile(config.secretKeyFile, `${options.secretKeyHex}\n`, { mode: 0o600 });
  }
  const runtime = await openRuntime(config, { createKey: true });
  await runtime.catalog.upsertStorage('local', { type: 'local', path: backupsDir });
  // The same payload codec as the worker, the console and the CLI: every payload in history is encrypted.
  const client = new Client({
    connection: env.connection,
    namespace: 'default',
    dataConverter: hindsightDataConverter(runtime),
  });
  const services = createServices(runtime, client);
  const ops = actorOps(services, systemActor);

  let running:
    | { worker: Awaited<ReturnType<typeof createHindsightWorker>>; done: Promise<void>; close(): Promise<void> }
    | undefined;
  const platform: Platform = {
    dir,
    cluster,
    env,
    client,
    config,
    configEnv,
    runtime,
    services,
    ops,
    backupsDir,
    async startWorker() {
      if (running) return;
      const sandboxes = await createSandboxDriver({
        preferred: configEnv.HINDSIGHT_SANDBOX_DRIVER as SandboxPreference,
        root: config.sandboxRoot,
      });
      const workflowBundle = await cachedWorkflowBundle(hindsightDataConverter(runtime).failureConverterPath);
      const worker = await createHindsightWorker(runtime, workerLogger, { sandboxes, overrides: { workflowBundle } });
      running = { worker, done: worker.run(), close: worker.close };
    },
    async stopWorker() {
      if (!running) return;
      const current = running;
      running = undefined;
      current.worker.shutdown();
      await current.done;
      await current.close();
    },
    async stop() {
      await platform.stopWorker().catch(() => undefined);
      await runtime.close().catch(() => undefined);
      await Promise.all([env.teardown().catch(() => undefined), cluster.stop('immediate').catch(() => undefined)]);
      liveClusters.delete(cluster.dataDir);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return platform;
}

/**
 * Waits until every workflow in `ids` has ended, however it ended: the backups and restores a
 * suite started must end before its servers stop.
 */
export async function workflowsEnded(platform: Platform, ids: string[]): Promise<void> {
  await Promise.all(
    ids.map((id) =>
      platform.client.workflow
        .getHandle(id)
        .result()
        .catch(() => undefined),
    ),
  );
}

/** An order-sensitive fingerprint of a table's whole content. */
export async function tableFingerprint(
  target: PgTarget,
  table: string,
  orderBy: string,
): Promise<{ rows: number; md5: string }> {
  const client = await connect('fingerprint', target);
  try {
    const { rows } = await client.query<{ n: string; h: string }>(
      `select count(*)::text as n, md5(coalesce(string_agg(t::text, E'\\n' order by ${orderBy}), '')) as h from ${table} t`,
    );
    return { rows: Number(rows[0]!.n), md5: rows[0]!.h };
  } finally {
    await client.end();
  }
}
