/**
 * The world docs/getting-started.md is followed in: a running platform (catalog, Temporal dev
 * server, worker), the reader's own database on a PostgreSQL 15 server of its own, an S3 bucket on
 * moto that checks every signature, and a `hindsight` command on PATH. Its `settings` are the values
 * the guide asks the reader to set, pointing at these servers.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import { createFilledDatabase, startPlatform, startTestCluster, tableFingerprint, type Platform } from './platform.ts';
import { stopArchiver, stopRestoredServer } from './pitr-fixture.ts';
import { newBucket, rawClient } from './s3-moto-helpers.ts';
import { startMoto, type MotoServer } from './servers/moto.ts';

/** The reader's database: two tables with rows, so that a restore that drops one cannot pass. */
const SHOP_SCHEMA = `
  create table orders (id int primary key, total numeric(10,2), note text);
  insert into orders select g, g * 2.5, 'order ' || g from generate_series(1, 2000) g;
  create table customers (id int primary key, email text);
  insert into customers select g, 'c' || g || '@example.org' from generate_series(1, 300) g;
`;

/** Each table of a database's public schema and an ordered hash of its rows. */
export type TableHashes = Record<string, { rows: number; md5: string }>;

export async function tableHashes(target: PgTarget): Promise<TableHashes> {
  const client = await connect('guide check', target);
  let tables: string[];
  try {
    const { rows } = await client.query<{ t: string }>(
      `select quote_ident(tablename) as t from pg_tables where schemaname = 'public' order by tablename`,
    );
    tables = rows.map((r) => r.t);
  } finally {
    await client.end();
  }
  const hashes: TableHashes = {};
  for (const table of tables) hashes[table] = await tableFingerprint(target, table, 't::text');
  return hashes;
}

export class GuideWorld {
  readonly platform: Platform;
  readonly source: { cluster: LocalCluster; target: PgTarget };
  readonly moto: MotoServer;
  /** The guide's settings (its `settings` block), set to this world's servers. */
  readonly settings: Record<string, string>;

  constructor(parts: Pick<GuideWorld, 'platform' | 'source' | 'moto' | 'settings'>) {
    ({ platform: this.platform, source: this.source, moto: this.moto, settings: this.settings } = parts);
  }

  get dir(): string {
    return this.platform.dir;
  }

  /** Another database on the reader's server. */
  databaseOnSource(name: string): PgTarget {
    return { ...this.source.target, database: name };
  }

  /** What a reader's terminal holds beside `npm start`: its configuration, PATH with `hindsight`, psql's password file. */
  async shellEnv(): Promise<Record<string, string>> {
    const bin = path.join(this.dir, 'bin');
    await mkdir(bin, { recursive: true });
    const cli = path.resolve('bin/hindsight.mjs');
    await writeFile(path.join(bin, 'hindsight'), `#!/bin/sh\nexec '${process.execPath}' '${cli}' "$@"\n`, {
      mode: 0o755,
    });
    // psql finds the password where a reader keeps it; the worker never sees this file.
    const pgpass = path.join(this.dir, 'pgpass');
    await writeFile(pgpass, `*:*:*:${this.source.target.user}:${this.source.target.password}\n`, { mode: 0o600 });
    await chmod(pgpass, 0o600);
    return {
      ...(process.env as Record<string, string>),
      ...this.platform.configEnv,
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      PGPASSFILE: pgpass,
      ...this.settings,
    };
  }

  async stop(): Promise<void> {
    await stopRestoredServer(this.settings.RESTORE_DIR!);
    await this.platform.client.workflow
      .getHandle('walchain/shop')
      .terminate('guide over')
      .catch(() => undefined);
    await stopArchiver(this.platform, 'shop');
    await this.source.cluster.stop('immediate').catch(() => undefined);
    await this.moto.stop();
    await this.platform.stop();
  }
}

async function startSource(platform: Platform): Promise<GuideWorld['source']> {
  // 15: the major whose psql and pg_restore the hosts install, and whose pg_controldata PITR needs.
  const cluster = await startTestCluster(path.join(platform.dir, 'shop-server'), { major: 15 });
  return { cluster, target: await createFilledDatabase(cluster, 'shop', SHOP_SCHEMA) };
}

async function startBucket(): Promise<{ moto: MotoServer; settings: Record<string, string> }> {
  const moto = await startMoto();
  const user = await moto.createS3User('guide-reader');
  const client = rawClient(moto);
  const bucket = await newBucket(client, 'acme-hindsight');
  client.destroy();
  await moto.enableAuth();
  return {
    moto,
    settings: {
      S3_ENDPOINT: moto.endpoint,
      S3_REGION: moto.region,
      S3_BUCKET: bucket,
      AWS_ACCESS_KEY_ID: user.accessKeyId,
      AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
    },
  };
}

/** The guide's settings, pointing at this world's servers. */
async function worldOf(
  platform: Platform,
  source: GuideWorld['source'],
  bucket: Awaited<ReturnType<typeof startBucket>>,
): Promise<GuideWorld> {
  const { user, host, port, database, password } = source.target;
  const passwordFile = path.join(platform.dir, 'shop.password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const settings = {
    SHOP_URL: `postgres://${user}@${host}:${port}/${database}`,
    SHOP_PASSWORD_FILE: passwordFile,
    ...bucket.settings,
    // In the OS temp dir (a default restore root), below a directory the sandbox user can traverse.
    RESTORE_DIR: path.join(platform.dir, 'shop-before'),
  };
  return new GuideWorld({ platform, source, moto: bucket.moto, settings });
}

/** Starts everything at once; a failure half-way stops what started. */
export async function startGuideWorld(): Promise<GuideWorld> {
  const platform = await startPlatform();
  const [source, bucket, worker] = await Promise.allSettled([
    startSource(platform),
    startBucket(),
    platform.startWorker(),
  ]);
  if (source.status === 'fulfilled' && bucket.status === 'fulfilled' && worker.status === 'fulfilled')
    return worldOf(platform, source.value, bucket.value);
  if (source.status === 'fulfilled') await source.value.cluster.stop('immediate').catch(() => undefined);
  if (bucket.status === 'fulfilled') await bucket.value.moto.stop();
  await platform.stop();
  throw [source, bucket, worker].map((s) => (s.status === 'rejected' ? s.reason : undefined)).find(Boolean);
}
