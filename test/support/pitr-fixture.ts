/**
 * What the PITR tests share: a source server with WAL archiving on, base backups on demand, a
 * writer of timestamped rows, and restores through the pitrRestore workflow into directories whose
 * servers are stopped at the end.
 */
import { execFile } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { serverToolOfMajor } from '../../lib/pg/tools.ts';
import { asServerUser, serverEnv } from '../../lib/pitr/os-user.ts';
import { dataDirectoryMajor } from '../../lib/pitr/recover.ts';
import { parseLsn } from '../../lib/wal/lsn.ts';
import {
  type BaseBackupInput,
  type BaseBackupProgress,
  type PitrOutcome,
  type PitrRestoreInput,
  type WalArchiverInput,
  stopWalArchiverSignal,
} from '../../temporal/contracts/pitr.ts';
import { createDatabase, startPlatform, startTestCluster, type Platform } from './platform.ts';
import { settledWithin, waitFor } from './wait.ts';

const run = promisify(execFile);

export interface Row {
  id: number;
  at: Date;
}

export interface PitrSource {
  cluster: LocalCluster;
  target: PgTarget;
  database: string;
  query<T extends object = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** A source server of `major` (the platform's default when not given) with a table of timestamped rows. */
export async function startPitrSource(
  platform: Platform,
  database: string,
  dirName = 'source',
  major?: number,
): Promise<PitrSource> {
  const dir = path.join(platform.dir, dirName);
  await mkdir(dir, { recursive: true });
  const cluster = await startTestCluster(dir, major === undefined ? {} : { major });
  const target = await createDatabase(cluster, database);
  const query = async <T extends object>(sql: string, params: unknown[] = []) => {
    const client = await connect(database, target);
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  };
  // No autovacuum: an ANALYZE commits, and the idle-database test needs no commit after the last row.
  await query(
    'create table events (id serial primary key, at timestamptz not null, note text not null) with (autovacuum_enabled = false)',
  );
  return { cluster, target, database, query };
}

/** Registers the database with PITR on and starts its archiver (`wal/<db>`). */
export async function enablePitr(platform: Platform, source: PitrSource): Promise<void> {
  await platform.ops.addDatabase({ name: source.database, url: targetUrl(source.target), verifyAfterBackup: false });
  await platform.runtime.catalog.wal.updateSettings(source.database, { enabled: true, partialIntervalMs: 500 });
  const args: WalArchiverInput = { database: source.database };
  await platform.client.workflow.start('walArchiver', {
    taskQueue: platform.config.taskQueue,
    workflowId: `wal/${source.database}`,
    args: [args],
  });
  await waitFor(
    'the first archived WAL',
    async () => ((await platform.runtime.catalog.wal.segmentsOf(source.database)).length > 0 ? true : undefined),
    60_000,
    300,
  );
}

export interface PitrPlatform {
  platform: Platform;
  source: PitrSource;
}

export interface PitrPlatformOptions {
  /** The source's directory under the platform's (default `source`). */
  dirName?: string;
  major?: number;
  /** Runs once the source exists, before the worker starts and PITR is enabled. */
  prepareSource?: (source: PitrSource, platform: Platform) => Promise<void>;
}

/**
 * A platform with a worker and a source whose WAL streams to storage (`wal/<database>` running, the
 * first segment archived). A failure half-way stops what was started before it is thrown.
 */
export async function startPitrPlatform(database: string, options: PitrPlatformOptions = {}): Promise<PitrPlatform> {
  const platform = await startPlatform();
  let source: PitrSource | undefined;
  try {
    source = await startPitrSource(platform, database, options.dirName, options.major);
    await options.prepareSource?.(source, platform);
    await platform.startWorker();
    await enablePitr(platform, source);
    return { platform, source };
  } catch (error) {
    await stopPitrPlatform({ platform, source, database });
    throw error;
  }
}

export interface PitrWriting extends PitrPlatform {
  rows: Row[];
}

/** `startPitrPlatform`, then a base backup (`first`) and rows written for `forMs`, all of them archived. */
export async function startPitrWithRows(
  database: string,
  writes: { forMs: number; everyMs: number },
  options: PitrPlatformOptions = {},
): Promise<PitrWriting> {
  const { platform, source } = await startPitrPlatform(database, options);
  try {
    await takeBaseBackup(platform, database, 'first');
    const rows = await writeRows(source, writes.forMs, writes.everyMs);
    await waitUntilArchived(platform, source);
    return { platform, source, rows };
  } catch (error) {
    await stopPitrPlatform({ platform, source, database });
    throw error;
  }
}

/**
 * Stops, in order, the restored servers in `restoredDirs`, the chain monitor (when `chainMonitor`),
 * the archiver, the source and the platform; any of them may be missing after a failed start.
 */
export async function stopPitrPlatform(parts: {
  platform?: Platform;
  source?: PitrSource;
  database: string;
  restoredDirs?: string[];
  chainMonitor?: boolean;
}): Promise<void> {
  const { platform, source, database } = parts;
  for (const dir of parts.restoredDirs ?? []) await stopRestoredServer(dir);
  if (parts.chainMonitor)
    await platform?.client.workflow
      .getHandle(`walchain/${database}`)
      .terminate('test over')
      .catch(() => undefined);
  if (platform) await stopArchiver(platform, database);
  await source?.cluster.stop('immediate').catch(() => undefined);
  await platform?.stop();
}

export async function stopArchiver(platform: Platform, database: string): Promise<void> {
  const handle = platform.client.workflow.getHandle(`wal/${database}`);
  await handle.signal(stopWalArchiverSignal, 'test over').catch(() => undefined);
  await settledWithin(15_000, handle.result());
}

export async function takeBaseBackup(platform: Platform, database: string, id: string): Promise<BaseBackupProgress> {
  const args: BaseBackupInput = { database, trigger: 'manual' };
  return platform.client.workflow.execute('baseBackup', {
    taskQueue: platform.config.taskQueue,
    workflowId: `basebackup/${database}/${id}`,
    args: [args],
  });
}

/** Waits until storage holds every WAL byte the server has written so far. */
export async function waitUntilArchived(platform: Platform, source: PitrSource, timeoutMs = 30_000): Promise<void> {
  const [row] = await source.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
  const lsn = row!.lsn;
  const wanted = parseLsn(lsn);
  await waitFor(
    `WAL up to ${lsn} in storage`,
    async () => {
      const durable = await platform.runtime.catalog.wal.latestDurable(source.database);
      return durable && durable.lsn >= wanted ? true : undefined;
    },
    timeoutMs,
    200,
  );
}

/** Inserts one row every `everyMs` for `forMs`, each committed on its own; returns them with their times. */
export async function writeRows(source: PitrSource, forMs: number, everyMs: number, label = 'row'): Promise<Row[]> {
  const client = await connect(source.database, source.target);
  const rows: Row[] = [];
  try {
    const until = Date.now() + forMs;
    while (Date.now() < until) {
      const {
        rows: [r],
      } = await client.query<{ id: number; at: Date }>(
        'insert into events (at, note) values (clock_timestamp(), $1) returning id, at',
        [`${label} ${rows.length + 1}`],
      );
      rows.push({ id: r!.id, at: r!.at });
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  } finally {
    await client.end();
  }
  return rows;
}

/** RFC 3339 in a +02:00 offset: the restore must read the offset, not assume UTC. */
export function rfc3339Plus2(at: Date): string {
  const shifted = new Date(at.getTime() + 2 * 3600_000).toISOString();
  return `${shifted.slice(0, 23)}+02:00`;
}

export async function restore(platform: Platform, input: PitrRestoreInput, id: string): Promise<PitrOutcome> {
  return platform.client.workflow.execute('pitrRestore', {
    taskQueue: platform.config.taskQueue,
    workflowId: `restore/${input.database}/${id}`,
    args: [input],
  });
}

/** Rows of the restored server, as the registered user (it has no TLS: loopback only). */
export async function restoredRows(source: PitrSource, port: number): Promise<Row[]> {
  const client = await connect('restored', { ...source.target, host: '127.0.0.1', port, sslmode: 'disable' });
  try {
    const { rows } = await client.query<{ id: number; at: Date }>('select id, at from events order by id');
    return rows;
  } finally {
    await client.end();
  }
}

export async function stopRestoredServer(dataDir: string): Promise<void> {
  const major = await dataDirectoryMajor(dataDir).catch(() => undefined);
  const pgCtl = await serverToolOfMajor('pg_ctl', major);
  const args = [pgCtl.path, 'stop', '-D', dataDir, '-m', 'immediate', '-w'];
  // Restored servers run as the sandbox user (lib/pitr/os-user.ts).
  const [cmd, cmdArgs] = asServerUser(args[0]!, args.slice(1));
  await run(cmd, cmdArgs, { cwd: '/', env: serverEnv() }).catch(() => undefined);
}

/**
 * The page magic (xlog_internal.h) of the WAL the source server writes, read from its own current
 * segment: it changes with every major, so tests compare against the server's, never a constant.
 */
export async function walPageMagic(source: PitrSource): Promise<number> {
  // Flushed WAL only (at a segment boundary pg_walfile_name names the previous, complete segment).
  const [row] = await source.query<{ name: string }>('select pg_walfile_name(pg_current_wal_flush_lsn()) as name');
  const file = await open(path.join(source.cluster.dataDir, 'pg_wal', row!.name), 'r');
  try {
    const { buffer } = await file.read(Buffer.alloc(2), 0, 2, 0);
    const magic = buffer.readUInt16LE(0);
    // Every release's magic is 0xD1xx: anything else means the file was not a written segment.
    if (magic >> 8 !== 0xd1)
      throw new Error(`${row!.name} of the source does not start with a WAL page header (0x${magic.toString(16)})`);
    return magic;
  } finally {
    await file.close();
  }
}
