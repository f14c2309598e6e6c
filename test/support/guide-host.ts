/**
 * The new host a guide brings up with `npm start`: the environment that gives it a data directory,
 * a catalog database and ports of its own (so that it never meets the checkout's data/ or another
 * test's servers), and the test's own look at it while it runs. The guide's blocks start and stop
 * it; the test only reads it, and loses its catalog between two drills.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../../lib/config.ts';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, quoteIdent, targetUrl } from '../../lib/pg/connection.ts';
import { openRuntime, type Runtime } from '../../services/runtime.ts';
import { connectTemporalClient } from '../../temporal/client.ts';
import { stopWalArchiverSignal, walArchiverId } from '../../temporal/contracts/pitr.ts';
import { freePort } from './ports.ts';

/** The catalog database of the new host, on the test's server: `npm start` then starts no embedded one (and no demo). */
const CATALOG_DATABASE = 'new_host_catalog';

export class NpmStartHost {
  /** What `npm start` and the `hindsight` beside it read: the reader's environment on the new host. */
  readonly env: Record<string, string>;
  readonly config: Config;
  private readonly server: LocalCluster;

  constructor(env: Record<string, string>, server: LocalCluster) {
    this.env = env;
    this.config = loadConfig(env);
    this.server = server;
  }

  get dataDir(): string {
    return this.config.dataDir;
  }

  /** The host's catalog and Temporal, opened for one look and closed again (npm start may restart under them). */
  async open<T>(look: (host: { runtime: Runtime; client: Client }) => Promise<T>): Promise<T> {
    const runtime = await openRuntime(this.config, { migrate: false });
    try {
      const client = await connectTemporalClient(this.config, runtime);
      try {
        return await look({ runtime, client });
      } finally {
        await client.connection.close();
      }
    } finally {
      await runtime.close();
    }
  }

  /** The host's catalog alone, opened for one look and closed again. */
  async catalog<T>(look: (catalog: Runtime['catalog']) => Promise<T>): Promise<T> {
    const runtime = await openRuntime(this.config, { migrate: false });
    try {
      return await look(runtime.catalog);
    } finally {
      await runtime.close();
    }
  }

  /** Stops `database`'s WAL archiver, which writes its last index batch as it stops. */
  async stopArchiver(database: string): Promise<void> {
    await this.open(async ({ client }) => {
      const handle = client.workflow.getHandle(walArchiverId(database));
      await handle.signal(stopWalArchiverSignal, 'drill over').catch(() => undefined);
      await Promise.race([handle.result().catch(() => undefined), new Promise((r) => setTimeout(r, 15_000))]);
    });
  }

  /** An empty catalog database, as a new host's `DATABASE_URL` names before its first start. */
  async emptyCatalog(): Promise<void> {
    const admin = await connect('test server', this.server.target('postgres'));
    try {
      await admin.query(`drop database if exists ${quoteIdent(CATALOG_DATABASE)} with (force)`);
      await admin.query(`create database ${quoteIdent(CATALOG_DATABASE)}`);
    } finally {
      await admin.end();
    }
  }
}

/**
 * A new host in `dir`, its catalog an empty database on `server`, on free ports: Temporal's dev
 * server (and its UI), the console. The sandbox driver and the catalog backup after changes are set
 * as for every test platform (test/support/platform.ts).
 */
export async function newNpmStartHost(dir: string, server: LocalCluster): Promise<NpmStartHost> {
  const env = {
    HINDSIGHT_DATA_DIR: path.join(dir, 'data'),
    DATABASE_URL: targetUrl(server.target(CATALOG_DATABASE)),
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    HINDSIGHT_TEMPORAL_UI_PORT: String(await freePort()),
    HINDSIGHT_WEB_PORT: String(await freePort()),
    HINDSIGHT_SANDBOX_ROOT: path.join(dir, 'sandboxes'),
    HINDSIGHT_SANDBOX_DRIVER: process.env.HINDSIGHT_SANDBOX_DRIVER ?? 'process',
    HINDSIGHT_CATALOG_BACKUP_AFTER_CHANGE: '0',
  };
  const host = new NpmStartHost(env, server);
  await host.emptyCatalog();
  return host;
}
