/**
 * `npm start`: the whole platform on its embedded defaults, in one terminal, as a small process
 * supervisor. Starts the metadata PostgreSQL, the Temporal dev server, the worker and the web
 * console (scripts/start-children.ts), then (on first start) the demo; a child that dies is started
 * again after a backoff (lib/supervisor/). Ctrl-C or SIGTERM stops the console, then the worker
 * (which drains), then Temporal and the catalog; the next start resumes with the same data. One
 * start per data directory: a lock in it (lib/supervisor/data-lock.ts) refuses a second.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type Config } from '../lib/config.ts';
import { prepareDataDir } from '../lib/data-dir.ts';
import { loadOrCreateSecretKey } from '../lib/crypto/secret-key.ts';
import { errorMessage } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { SETUP_TOKEN_TTL_MS } from '../services/access/first-owner.ts';
import type { LocalCluster } from '../lib/pg/cluster.ts';
import { acquireDataLock, type DataLock } from '../lib/supervisor/data-lock.ts';
import { ChildRegistry, sweepOrphans } from '../lib/supervisor/orphans.ts';
import { Supervisor } from '../lib/supervisor/supervisor.ts';
import { connectTemporalClient } from '../temporal/client.ts';
import { ensureDemo } from '../services/demo.ts';
import { createServices } from '../services/index.ts';
import { operatorActor } from '../services/authz.ts';
import { osUser } from '../cli/access.ts';
import { openRuntime, type Runtime } from '../services/runtime.ts';
import { TEMPORAL_UI_PATH } from '../web/src/lib/server/view/temporal-ui.ts';
import { catalogChild, temporalChild, webChild, workerChild, type ChildContext } from './start-children.ts';

process.env.HINDSIGHT_LOG_PRETTY ??= '1';
const log = createLogger('start');
const processes = new Set<ChildProcess>();
let metaCluster: LocalCluster | undefined;
let lock: DataLock | undefined;
let registry: ChildRegistry | undefined;
let stopping = false;

const supervisor = new Supervisor({
  log,
  onGiveUp: () => void shutdown(1),
});

/** Stops the console first (no new requests), then the worker (it drains), then what they use. */
const STOP_ORDER = ['web', 'worker', 'temporal', 'catalog'];

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('stopping Hindsight');
  await lock?.markStopping().catch(() => undefined);
  await supervisor.stop(STOP_ORDER);
  await registry?.clear().catch(() => undefined);
  await lock?.release().catch(() => undefined);
  log.info('stopped');
  process.exit(code);
}

/** One start per data directory: waits for one that is stopping, refuses one that runs, takes over a dead one's lock. */
async function lockDataDir(dataDir: string): Promise<DataLock> {
  return acquireDataLock(dataDir, {
    waiting: (holder) =>
      log.info(`waiting for the Hindsight that is stopping on ${dataDir} (pid ${holder.pid}) to finish`),
    takenOver: (holder) =>
      log.warn(`taking over the lock on ${dataDir} from pid ${holder.pid}, which is no longer running`),
  });
}

/** The codec endpoint is on locally, with a token in the data directory (the children inherit the setting). */
async function ensureCodecToken(config: Config): Promise<void> {
  if (config.codecTokenFile) return;
  const tokenFile = path.join(config.dataDir, 'codec.token');
  await writeFile(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600, flag: 'wx' }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    },
  );
  process.env.HINDSIGHT_CODEC_TOKEN_FILE = tokenFile;
}

/** Starts the catalog and Temporal where they are local; resolves once both answer. */
async function startBackends(ctx: ChildContext): Promise<Config> {
  const { config } = ctx;
  if (!config.databaseUrl) {
    await supervisor.start(catalogChild(ctx, (cluster) => (metaCluster = cluster)));
    log.info(`metadata database ready on 127.0.0.1:${config.metaPort} (${metaCluster?.dataDir})`);
  }
  const [host, port] = config.temporalAddress.split(':') as [string, string];
  if (!['127.0.0.1', 'localhost'].includes(host)) return config;
  await supervisor.start(temporalChild(ctx, host, Number(port)));
  // The console (a child, inheriting this) serves this UI server at /temporal/.
  process.env.HINDSIGHT_TEMPORAL_UI_UPSTREAM ??= `http://127.0.0.1:${config.temporalUiPort}`;
  log.info(`Temporal dev server ready on ${config.temporalAddress}`);
  return loadConfig();
}

/** The demo on first start, and health monitors for databases registered before monitoring existed. */
async function setUpDemo(config: Config, runtime: Runtime): Promise<void> {
  const consoleUrl = `http://${config.webHost}:${config.webPort}`;
  const temporalClient = await connectTemporalClient(config, runtime);
  try {
    if ((await runtime.catalog.access.countUsers()) === 0) {
      // One-time and stored hashed: whoever else reaches the console first cannot create the owner.
      const token = await runtime.catalog.access.issueSetupToken(SETUP_TOKEN_TTL_MS);
      log.info(
        `no account yet: open ${config.publicUrlSetting ?? consoleUrl}/setup?token=${token} to create the owner (or: hindsight user create <email> --owner)`,
      );
    }
    const services = createServices(runtime, temporalClient);
    // The demo is set up by the local operator, in the default workspace, and audited as such.
    if (metaCluster)
      await ensureDemo(services, operatorActor(osUser()), metaCluster.target('postgres'), log).catch((error: unknown) =>
        log.error(`demo setup failed: ${errorMessage(error)}`),
      );
    await services.databases
      .ensureMonitors()
      .catch((error: unknown) => log.error(`health monitors not started: ${errorMessage(error)}`));
  } finally {
    await temporalClient.connection.close().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const initial = loadConfig();
  // 0711, its entries closed: the catalog's postgres user and the sandbox user pass through, no one lists it (lib/data-dir.ts).
  await prepareDataDir(initial.dataDir);
  lock = await lockDataDir(initial.dataDir);
  registry = new ChildRegistry(initial.dataDir);
  // A start killed with SIGKILL leaves its children winding down, or running: stopped before ours start.
  await sweepOrphans(initial.dataDir, log);
  const { created } = await loadOrCreateSecretKey(initial.secretKeyFile);
  if (created)
    log.warn(`created ${initial.secretKeyFile}: back it up offline now; without it no backup can be decrypted`);
  await ensureCodecToken(initial);
  const logsDir = path.join(initial.dataDir, 'logs');
  await mkdir(logsDir, { recursive: true, mode: 0o700 });
  const ctx: ChildContext = { config: initial, log, logsDir, processes, registry };
  const config = await startBackends(ctx);
  const children = { ...ctx, config };
  // Opened (and migrated) before the worker and the console open it; closed once the demo is set up,
  // so that the supervisor keeps no connection to the children it restarts.
  const runtime = await openRuntime(config, { createKey: true });
  try {
    await startServing(children, runtime);
  } finally {
    await runtime.close().catch(() => undefined);
  }
}

async function startServing(children: ChildContext, runtime: Runtime): Promise<void> {
  const { config } = children;
  await supervisor.start(workerChild(children));
  await supervisor.start(webChild(children));
  const consoleUrl = `http://${config.webHost}:${config.webPort}`;
  const temporalUi = config.temporalUiUpstream ? `${consoleUrl}${TEMPORAL_UI_PATH}/` : config.temporalUiUrl;
  log.info(`console on ${consoleUrl}  ·  Temporal UI on ${temporalUi}  ·  Ctrl-C stops everything`);
  if (config.temporalUiUpstream)
    log.info(
      `the console's Temporal UI is read-only, for owners and users who may read every workspace; the full UI is at ${config.temporalUiUpstream}${TEMPORAL_UI_PATH}/ on this machine (docs/temporal.md)`,
    );
  // Not fatal: the platform runs on without its demo.
  await setUpDemo(config, runtime).catch((error: unknown) => log.error(`demo setup failed: ${errorMessage(error)}`));
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('exit', () => {
  for (const child of processes) if (child.exitCode === null) child.kill('SIGKILL');
});

main().catch(async (error: unknown) => {
  log.error(errorMessage(error));
  // Refused before it held the lock: nothing of its own to stop.
  if (!lock) process.exit(1);
  await shutdown(1);
});
