import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { HindsightError } from '../errors.ts';
import type { PgTarget } from './connection.ts';
import { serverToolOfMajor } from './tools.ts';

const run = promisify(execFile);

/**
 * A PostgreSQL server that Hindsight runs itself: the embedded metadata database, and throwaway
 * clusters in tests. PostgreSQL refuses to run as root, so as root the server runs as the
 * `postgres` system user (created by scripts/setup.sh) and its directory is handed to that user.
 */
export interface LocalCluster {
  readonly dataDir: string;
  readonly port: number;
  readonly superuser: string;
  readonly password: string;
  readonly major: number;
  /** The pg_ctl that runs this cluster (for emergency stops from synchronous exit handlers). */
  readonly pgCtlPath: string;
  target(database?: string): PgTarget;
  start(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  isRunning(): Promise<boolean>;
}

const osUser = process.env.HINDSIGHT_PG_OS_USER ?? 'postgres';
const runningAsRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

async function osUserIds(): Promise<{ uid: number; gid: number }> {
  const { stdout: uid } = await run('id', ['-u', osUser]).catch(() => {
    throw new HindsightError(
      'not_found',
      `running as root, PostgreSQL must run as user "${osUser}", which does not exist: run 'npm run setup' or 'useradd --system ${osUser}'`,
    );
  });
  const { stdout: gid } = await run('id', ['-g', osUser]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

/** Runs a server binary, as the unprivileged user when we are root. */
async function runServerTool(file: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const [cmd, cmdArgs] = runningAsRoot() ? ['runuser', ['-u', osUser, '--', file, ...args]] : [file, args];
  try {
    const { stdout } = await run(cmd, cmdArgs, {
      env: { ...process.env, ...options.env },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const err = error as { stderr?: string; message: string };
    throw new HindsightError(
      'tool_failed',
      `${path.basename(file)} failed: ${(err.stderr || err.message).trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

export interface ClusterOptions {
  dataDir: string;
  port: number;
  superuser?: string;
  major?: number;
  /** Extra server settings, e.g. { fsync: 'off' } for throwaway test clusters. */
  settings?: Record<string, string>;
}

/** The major a cluster directory is for: the one asked for, else the one that made it (undefined: the newest). */
async function majorOf(dataDir: string, asked: number | undefined): Promise<number | undefined> {
  // An existing data directory is tied to the major that made it.
  const existing = Number.parseInt(await readFile(path.join(dataDir, 'PG_VERSION'), 'utf8').catch(() => ''), 10);
  if (asked !== undefined && Number.isInteger(existing) && existing !== asked) {
    throw new HindsightError(
      'conflict',
      `${dataDir} holds a PostgreSQL ${existing} cluster, not ${asked}: choose another directory or remove it`,
    );
  }
  return asked ?? (Number.isInteger(existing) ? existing : undefined);
}

/** As root, every parent must be traversable by the server's user. */
async function checkServerUserReaches(dir: string): Promise<void> {
  if (!runningAsRoot()) return;
  try {
    await run('runuser', ['-u', osUser, '--', 'test', '-x', dir]);
  } catch {
    throw new HindsightError(
      'access_denied',
      `PostgreSQL runs as user "${osUser}" (it refuses root) and cannot reach ${dir}: make the directory and its parents traversable (chmod o+x) or set HINDSIGHT_DATA_DIR elsewhere`,
    );
  }
}

interface NewCluster {
  dataDir: string;
  passwordFile: string;
  superuser: string;
  initdbPath: string;
  ids: { uid: number; gid: number } | undefined;
  settings: Record<string, string> | undefined;
}

/** initdb with a random superuser password (kept in `passwordFile`), then the server's settings. */
async function initialiseCluster(cluster: NewCluster): Promise<void> {
  const { dataDir, passwordFile, superuser, initdbPath, ids, settings: extra } = cluster;
  await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(18).toString('base64url');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  const pwfile = path.join(dataDir, '..', `.initdb-pw-${randomBytes(4).toString('hex')}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (ids) {
    await chown(dataDir, ids.uid, ids.gid);
    await chown(pwfile, ids.uid, ids.gid);
  }
  try {
    await runServerTool(initdbPath, [
      '-D',
      dataDir,
      '-U',
      superuser,
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ]);
  } finally {
    await rm(pwfile, { force: true });
  }
  const settings = {
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: "''",
    max_connections: '100',
    wal_level: 'replica',
    max_wal_senders: '10',
    max_replication_slots: '10',
    ...Object.fromEntries(Object.entries(extra ?? {}).map(([k, v]) => [k, v])),
  };
  const conf = Object.entries(settings)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n');
  const confFile = path.join(dataDir, 'postgresql.auto.conf');
  await writeFile(confFile, `# written by Hindsight\n${conf}\n`);
  if (ids) await chown(confFile, ids.uid, ids.gid);
}

/** Starts and stops the cluster through its pg_ctl. */
type ClusterControl = Pick<LocalCluster, 'isRunning' | 'start' | 'stop'>;

function clusterControl(dataDir: string, port: number, pgCtlPath: string): ClusterControl {
  const logFile = path.join(dataDir, 'server.log');
  const control: ClusterControl = {
    async isRunning() {
      try {
        await runServerTool(pgCtlPath, ['status', '-D', dataDir]);
        return true;
      } catch {
        return false;
      }
    },
    async start() {
      if (await control.isRunning()) return;
      await runServerTool(pgCtlPath, [
        'start',
        '-D',
        dataDir,
        '-l',
        logFile,
        '-w',
        '-t',
        '60',
        '-o',
        `-p ${port}`,
      ]).catch(async (error: HindsightError) => {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        throw new HindsightError(
          'tool_failed',
          `PostgreSQL in ${dataDir} did not start on port ${port}: ${log.trim().split('\n').slice(-3).join(' | ') || error.message}`,
        );
      });
    },
    async stop(mode = 'fast') {
      if (!(await control.isRunning())) return;
      await runServerTool(pgCtlPath, ['stop', '-D', dataDir, '-m', mode, '-w', '-t', '60']);
    },
  };
  return control;
}

/**
 * Opens (and on first use initialises) a cluster in `dataDir`. The superuser password is random,
 * kept in `<dataDir>/../<name>.password` (0600) next to the cluster, outside PGDATA.
 */
export async function openLocalCluster(options: ClusterOptions): Promise<LocalCluster> {
  const dataDir = path.resolve(options.dataDir);
  const superuser = options.superuser ?? 'hindsight';
  const passwordFile = `${dataDir}.password`;
  const major = await majorOf(dataDir, options.major);
  const initdb = await serverToolOfMajor('initdb', major);
  const pgCtl = await serverToolOfMajor('pg_ctl', initdb.major);
  const ids = runningAsRoot() ? await osUserIds() : undefined;

  await mkdir(path.dirname(dataDir), { recursive: true });
  await checkServerUserReaches(path.dirname(dataDir));
  if (!(await exists(path.join(dataDir, 'PG_VERSION')))) {
    await initialiseCluster({
      dataDir,
      passwordFile,
      superuser,
      initdbPath: initdb.path,
      ids,
      settings: options.settings,
    });
  }
  const password = (await readFile(passwordFile, 'utf8')).trim();
  const control = clusterControl(dataDir, options.port, pgCtl.path);
  const cluster: LocalCluster = {
    dataDir,
    port: options.port,
    superuser,
    password,
    major: initdb.major,
    pgCtlPath: pgCtl.path,
    target: (database = 'postgres') => ({ host: '127.0.0.1', port: options.port, database, user: superuser, password }),
    isRunning: control.isRunning,
    start: control.start,
    stop: control.stop,
  };
  return cluster;
}

/** Removes a throwaway cluster and its password file. */
export async function destroyLocalCluster(cluster: LocalCluster): Promise<void> {
  await cluster.stop('immediate').catch(() => undefined);
  await rm(cluster.dataDir, { recursive: true, force: true });
  await rm(`${cluster.dataDir}.password`, { force: true });
}

/** Makes a directory usable by the server user when running as root (e.g. a test's temp dir). */
export async function shareDirWithServerUser(dir: string): Promise<void> {
  await chmod(dir, 0o755);
}

/** A process started in the foreground of a caller, e.g. psql for a data load, as the current user. */
export function spawnTool(file: string, args: string[], env: Record<string, string>) {
  return spawn(file, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
}
