/**
 * A bench for `npm start` run as a reader runs it: a temporary directory holding its data directory,
 * sandboxes and a source PostgreSQL, the ports of its own, and a way to open the host's catalog and
 * Temporal for one look while it runs (npm start restarts them under the test).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../lib/config.ts';
import { openLocalCluster, shareDirWithServerUser, type LocalCluster } from '../../lib/pg/cluster.ts';
import { createServices, type Services } from '../../services/index.ts';
import { metaClusterDir, openRuntime, type Runtime } from '../../services/runtime.ts';
import { connectTemporalClient } from '../../temporal/client.ts';
import type { StartProcess } from './npm-start-process.ts';
import { startTestCluster } from './platform.ts';
import { freePort } from './ports.ts';

export interface StartBench {
  dir: string;
  source: LocalCluster;
  env: Record<string, string>;
  config: Config;
}

export async function prepareStartBench(
  prefix: string,
  sourceSettings: Record<string, string> = {},
): Promise<StartBench> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  // The catalog's server runs as the postgres user when we are root: it must reach the data directory.
  await shareDirWithServerUser(dir);
  const source = await startTestCluster(path.join(dir, 'source'), { settings: sourceSettings });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HINDSIGHT_DATA_DIR: path.join(dir, 'data'),
    HINDSIGHT_META_PORT: String(await freePort()),
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    HINDSIGHT_TEMPORAL_UI_PORT: String(await freePort()),
    HINDSIGHT_WEB_PORT: String(await freePort()),
    HINDSIGHT_SANDBOX_ROOT: path.join(dir, 'sandboxes'),
    HINDSIGHT_SANDBOX_DRIVER: process.env.HINDSIGHT_SANDBOX_DRIVER ?? 'process',
    HINDSIGHT_CATALOG_BACKUP_AFTER_CHANGE: '0',
  };
  delete env.DATABASE_URL;
  return { dir, source, env, config: loadConfig(env) };
}

/** Whatever the starts left, stopped; the catalog and the source stopped; the directory removed. */
export async function cleanUpStartBench(bench: StartBench | undefined, starts: StartProcess[]): Promise<void> {
  for (const start of starts) start.killGroup();
  if (!bench) return;
  const meta = await openLocalCluster({ dataDir: metaClusterDir(bench.config), port: bench.config.metaPort }).catch(
    () => undefined,
  );
  await meta?.stop('immediate').catch(() => undefined);
  await bench.source.stop('immediate').catch(() => undefined);
  await rm(bench.dir, { recursive: true, force: true });
}

/** The host's catalog and Temporal, opened for one look and closed again. */
export async function look<T>(config: Config, work: (services: Services, runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(config, { migrate: false });
  try {
    const client = await connectTemporalClient(config, runtime);
    try {
      return await work(createServices(runtime, client), runtime);
    } finally {
      await client.connection.close();
    }
  } finally {
    await runtime.close();
  }
}

/** The command line of each running process, by pid. */
export async function processCommandLines(): Promise<Map<number, string>> {
  const lines = new Map<number, string>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline) lines.set(Number(name), cmdline.split('\0').join(' ').trim());
  }
  return lines;
}

/** A child process of `parent` whose command line matches `pattern` (other tests run workers too). */
export async function childOf(parent: number, pattern: RegExp): Promise<number | undefined> {
  for (const [pid, cmdline] of await processCommandLines()) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === parent && pattern.test(cmdline)) return pid;
  }
  return undefined;
}
