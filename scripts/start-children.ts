/**
 * The children `npm start` supervises (scripts/start.ts): the embedded catalog PostgreSQL, the
 * Temporal dev server, the worker and the console. Each starts as a run that is up once it serves
 * (the catalog accepts connections, Temporal and the console answer on their ports), so that a
 * child restarted after another comes back to a platform that is there.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../lib/config.ts';
import { closeDataDirEntries } from '../lib/data-dir.ts';
import type { Logger } from '../lib/logger.ts';
import { openLocalCluster, type LocalCluster } from '../lib/pg/cluster.ts';
import { connect, quoteIdent } from '../lib/pg/connection.ts';
import type { ChildRegistry } from '../lib/supervisor/orphans.ts';
import { boundToParent, prefixOutput, processRun, spawnBound, watchedRun } from '../lib/supervisor/runs.ts';
import { describeExit, type ChildRun, type ChildSpec } from '../lib/supervisor/supervisor.ts';
import { withV8Flags, workerProcessEnv } from '../lib/supervisor/worker-env.ts';
import { startTemporalDevServer, waitForPort } from '../temporal/dev-server.ts';
import { TEMPORAL_UI_PATH } from '../web/src/lib/server/view/temporal-ui.ts';
import { META_DATABASE, metaClusterDir } from '../services/runtime.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface ChildContext {
  config: Config;
  log: Logger;
  /** `<data dir>/logs`: each child's output, besides our stdout. */
  logsDir: string;
  /** Every child process started, for a last SIGKILL should the supervisor exit without stopping them. */
  processes: Set<ChildProcess>;
  /** The same, in the data directory: for the start that takes over should this one be killed (orphans.ts). */
  registry: ChildRegistry;
}

function track(ctx: ChildContext, name: string, child: ChildProcess): void {
  ctx.processes.add(child);
  const { pid } = child;
  if (pid !== undefined) void ctx.registry.add(name, pid);
  child.once('exit', () => {
    ctx.processes.delete(child);
    if (pid !== undefined) void ctx.registry.remove(pid);
  });
}

/** Resolves once `host:port` answers; rejects, stopping the run, when the run ends first or it does not answer in time. */
async function upOnPort(name: string, run: ChildRun, host: string, port: number): Promise<ChildRun> {
  const ended = run.exited.then((exit) => {
    throw new Error(`${name} ${describeExit(exit)} before it answered on ${host}:${port}`);
  });
  try {
    await Promise.race([waitForPort(host, port, 60_000), ended]);
    return run;
  } catch (error) {
    await run.stop();
    throw error;
  } finally {
    ended.catch(() => undefined);
  }
}

async function postmasterPid(dataDir: string): Promise<number> {
  const first = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '';
  const pid = Number.parseInt(first, 10);
  if (!(pid > 0)) throw new Error(`${dataDir}/postmaster.pid names no process`);
  return pid;
}

/** The catalog's embedded PostgreSQL, started by pg_ctl (it runs detached: its pid is watched). */
export function catalogChild(ctx: ChildContext, ready: (cluster: LocalCluster) => void): ChildSpec {
  const dataDir = metaClusterDir(ctx.config);
  let cluster: LocalCluster | undefined;
  return {
    name: 'catalog',
    logFile: path.join(dataDir, 'server.log'),
    async start() {
      cluster ??= await openLocalCluster({ dataDir, port: ctx.config.metaPort, superuser: 'hindsight' });
      const opened = cluster;
      await opened.start();
      const admin = await connect('metadata', opened.target('postgres'));
      try {
        const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [META_DATABASE]);
        if (!rowCount) await admin.query(`create database ${quoteIdent(META_DATABASE)}`);
      } finally {
        await admin.end();
      }
      ready(opened);
      return watchedRun(await postmasterPid(opened.dataDir), () => opened.stop('fast'));
    },
  };
}

/** The Temporal dev server, its UI under /temporal for the console to serve on its own origin. */
export function temporalChild(ctx: ChildContext, host: string, port: number): ChildSpec {
  const { config } = ctx;
  const logFile = path.join(ctx.logsDir, 'temporal.log');
  return {
    name: 'temporal',
    logFile,
    async start() {
      const child = await startTemporalDevServer({
        dbFile: path.join(config.dataDir, 'temporal.db'),
        port,
        uiPort: config.temporalUiPort,
        namespace: config.temporalNamespace,
        // Relative: the console serves the UI on its own origin, so its decode calls carry the console's session.
        uiCodecEndpoint: '/codec',
        uiPublicPath: TEMPORAL_UI_PATH,
        launch: boundToParent,
      });
      track(ctx, 'temporal', child);
      prefixOutput('temporal', child, logFile);
      const run = await upOnPort('temporal', processRun('temporal', child, ctx.log, 20_000), host, port);
      // The dev server creates its database with the default umask: closed before any workflow runs.
      await closeDataDirEntries(config.dataDir);
      return run;
    },
  };
}

/** A Node.js program of ours (the worker, the console), inheriting our environment. */
function nodeChild(
  ctx: ChildContext,
  name: string,
  entry: string,
  graceMs: number,
  env: NodeJS.ProcessEnv = process.env,
): ChildSpec & { logFile: string } {
  const logFile = path.join(ctx.logsDir, `${name}.log`);
  return {
    name,
    logFile,
    needs: ctx.config.databaseUrl ? ['temporal'] : ['catalog', 'temporal'],
    start() {
      const child = spawnBound(process.execPath, [path.join(root, entry)], { cwd: root, env });
      track(ctx, name, child);
      prefixOutput(name, child, logFile);
      return Promise.resolve(processRun(name, child, ctx.log, graceMs));
    },
  };
}

/**
 * The worker: SIGTERM drains it, so it gets its shutdown grace (30 s by default,
 * worker/create-worker.ts, not imported here: it loads the Temporal worker's native code) and some
 * more before SIGKILL. It starts with the allocator settings of lib/supervisor/worker-env.ts.
 */
export function workerChild(ctx: ChildContext): ChildSpec {
  return nodeChild(ctx, 'worker', 'worker/main.ts', 45_000, workerProcessEnv(process.env));
}

/** The console, up once it answers on its port. */
export function webChild(ctx: ChildContext): ChildSpec {
  const spec = nodeChild(ctx, 'web', 'web/main.ts', 15_000, withV8Flags(process.env));
  return {
    ...spec,
    start: async () => upOnPort('web', await spec.start(), ctx.config.webHost, ctx.config.webPort),
  };
}
