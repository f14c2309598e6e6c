/**
 * `npm start`: the whole platform on its embedded defaults, in one terminal. Starts the metadata
 * PostgreSQL, the Temporal dev server, the worker and the web console, then (on first start) the
 * demo. Ctrl-C stops everything in reverse order; the next start resumes with the same data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../lib/config.ts';
import { closeDataDirEntries, prepareDataDir } from '../lib/data-dir.ts';
import { loadOrCreateSecretKey } from '../lib/crypto/secret-key.ts';
import { errorMessage } from '../lib/errors.ts';
import { createLogger } from '../lib/logger.ts';
import { openLocalCluster, type LocalCluster } from '../lib/pg/cluster.ts';
import { connect, quoteIdent } from '../lib/pg/connection.ts';
import { connectTemporalClient } from '../temporal/client.ts';
import { startTemporalDevServer, waitForPort } from '../temporal/dev-server.ts';
import { ensureDemo } from '../services/demo.ts';
import { createServices } from '../services/index.ts';
import { operatorActor } from '../services/authz.ts';
import { osUser } from '../cli/access.ts';
import { META_DATABASE, metaClusterDir, openRuntime } from '../services/runtime.ts';
import { TEMPORAL_UI_PATH } from '../web/src/lib/server/view/temporal-ui.ts';

process.env.HINDSIGHT_LOG_PRETTY ??= '1';
const log = createLogger('start');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const children: Array<{ name: string; child: ChildProcess }> = [];
let metaCluster: LocalCluster | undefined;
let stopping = false;

function prefixOutput(name: string, child: ChildProcess): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${`[${name}]`.padEnd(11)}${line}\n`));
  }
}

function startNodeProcess(name: string, entry: string): ChildProcess {
  // Own process group: Ctrl-C reaches only this supervisor, which stops children in order.
  const child = spawn(process.execPath, [path.join(root, entry)], {
    cwd: root,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  prefixOutput(name, child);
  children.push({ name, child });
  child.once('exit', (code, signal) => {
    if (!stopping) {
      log.error(`${name} exited (${signal ?? code}); stopping Hindsight`);
      void shutdown(1);
    }
  });
  return child;
}

function stopChild(name: string, child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      log.warn(`${name} did not stop within ${graceMs / 1000} s; killing it`);
      child.kill('SIGKILL');
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('stopping Hindsight');
  for (const { name, child } of [...children].reverse()) await stopChild(name, child, 'SIGTERM', 20_000);
  if (metaCluster)
    await metaCluster
      .stop('fast')
      .catch((error: unknown) => log.error(`metadata database did not stop: ${errorMessage(error)}`));
  log.info('stopped');
  process.exit(code);
}

/**
 * The Temporal dev server, its UI under /temporal for the console to serve on its own origin
 * (HINDSIGHT_TEMPORAL_UI_UPSTREAM, inherited by the console).
 */
async function startLocalTemporal(config: Config, host: string, port: string): Promise<void> {
  const temporal = await startTemporalDevServer({
    dbFile: path.join(config.dataDir, 'temporal.db'),
    port: Number(port),
    uiPort: config.temporalUiPort,
    namespace: config.temporalNamespace,
    // Relative: the console serves the UI on its own origin, so its decode calls carry the console's session.
    uiCodecEndpoint: '/codec',
    uiPublicPath: TEMPORAL_UI_PATH,
  });
  prefixOutput('temporal', temporal);
  children.push({ name: 'temporal', child: temporal });
  temporal.once('exit', (code) => {
    if (!stopping) {
      log.error(`temporal dev server exited (${code})`);
      void shutdown(1);
    }
  });
  await waitForPort(host, Number(port), 60_000);
  // The dev server creates its database with the default umask: closed before any workflow runs.
  await closeDataDirEntries(config.dataDir);
  // The console (a child, inheriting this) serves this UI server at /temporal/.
  process.env.HINDSIGHT_TEMPORAL_UI_UPSTREAM ??= `http://127.0.0.1:${config.temporalUiPort}`;
  log.info(`Temporal dev server ready on ${config.temporalAddress}`);
}

async function main(): Promise<void> {
  let config = loadConfig();
  const consoleUrl = `http://${config.webHost}:${config.webPort}`;
  // 0711, its entries closed: the catalog's postgres user and the sandbox user pass through, no one lists it (lib/data-dir.ts).
  await prepareDataDir(config.dataDir);
  const { created } = await loadOrCreateSecretKey(config.secretKeyFile);
  if (created)
    log.warn(`created ${config.secretKeyFile}: back it up offline now; without it no backup can be decrypted`);
  // The codec endpoint is on locally, with a token in the data directory (the children inherit the setting).
  if (!config.codecTokenFile) {
    const tokenFile = path.join(config.dataDir, 'codec.token');
    await writeFile(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600, flag: 'wx' }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
    process.env.HINDSIGHT_CODEC_TOKEN_FILE = tokenFile;
  }

  if (!config.databaseUrl) {
    metaCluster = await openLocalCluster({
      dataDir: metaClusterDir(config),
      port: config.metaPort,
      superuser: 'hindsight',
    });
    await metaCluster.start();
    const admin = await connect('metadata', metaCluster.target('postgres'));
    try {
      const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [META_DATABASE]);
      if (!rowCount) await admin.query(`create database ${quoteIdent(META_DATABASE)}`);
    } finally {
      await admin.end();
    }
    log.info(`metadata database ready on 127.0.0.1:${config.metaPort} (${metaCluster.dataDir})`);
  }

  const [host, port] = config.temporalAddress.split(':') as [string, string];
  if (['127.0.0.1', 'localhost'].includes(host)) {
    await startLocalTemporal(config, host, port);
    config = loadConfig();
  }

  const runtime = await openRuntime(config, { createKey: true });
  const temporalClient = await connectTemporalClient(config, runtime);
  const services = createServices(runtime, temporalClient);

  startNodeProcess('worker', 'worker/main.ts');
  startNodeProcess('web', 'web/main.ts');
  await waitForPort(config.webHost, config.webPort, 60_000);
  const temporalUi = config.temporalUiUpstream ? `${consoleUrl}${TEMPORAL_UI_PATH}/` : config.temporalUiUrl;
  log.info(`console on ${consoleUrl}  ·  Temporal UI on ${temporalUi}  ·  Ctrl-C stops everything`);
  if (config.temporalUiUpstream)
    log.info(
      `the console's Temporal UI is read-only, for owners and users who may read every workspace; the full UI is at ${config.temporalUiUpstream}${TEMPORAL_UI_PATH}/ on this machine (docs/temporal.md)`,
    );
  if ((await runtime.catalog.access.countUsers()) === 0) {
    log.info(
      `no account yet: open ${consoleUrl}/setup to create the owner (or: hindsight user create <email> --owner)`,
    );
  }
  // The demo is set up by the local operator, in the default workspace, and audited as such.

  if (metaCluster) {
    try {
      await ensureDemo(services, operatorActor(osUser()), metaCluster.target('postgres'), log);
    } catch (error) {
      log.error(`demo setup failed: ${errorMessage(error)}`);
    }
  }
  // Databases registered before health monitoring existed get their monitor now.
  await services.databases
    .ensureMonitors()
    .catch((error: unknown) => log.error(`health monitors not started: ${errorMessage(error)}`));
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
});

main().catch(async (error: unknown) => {
  log.error(errorMessage(error));
  await shutdown(1);
});
