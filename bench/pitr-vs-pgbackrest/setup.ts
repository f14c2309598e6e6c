/** The bench's cluster, shared by both contenders, and how each is driven. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import { createDatabase, startPlatform, startTestCluster, type Platform } from '../../test/support/platform.ts';
import { asPostgres } from './processes.ts';

export const osUser = process.env.HINDSIGHT_PG_OS_USER ?? 'postgres';

export interface Setup {
  platform: Platform;
  source: LocalCluster;
  target: PgTarget;
  dir: string;
  conf: string;
  socketDir: string;
  /** The worker process's log (JSON lines): the restore activity's stage timings are read from it. */
  workerLog: string;
}

/**
 * A source cluster both contenders can back up: a unix socket and local trust for pgBackRest (it
 * connects only through the socket), archive_command for pgBackRest's own WAL archive (its backups
 * need it), and the replication slot and TCP access Hindsight uses.
 */
export async function setUp(): Promise<Setup> {
  const platform = await startPlatform();
  const dir = path.join(platform.dir, 'bench');
  await mkdir(dir, { recursive: true });
  const source = await startTestCluster(dir);
  const socketDir = path.join(dir, 'sock');
  const repo = path.join(dir, 'pgbr-repo');
  for (const d of [
    socketDir,
    repo,
    path.join(dir, 'pgbr-log'),
    path.join(dir, 'pgbr-lock'),
    path.join(dir, 'pgbr-spool'),
  ])
    await mkdir(d, { recursive: true });
  const conf = path.join(dir, 'pgbackrest.conf');
  await writeFile(
    conf,
    [
      '[global]',
      `repo1-path=${repo}`,
      'repo1-retention-full=10',
      'repo1-cipher-type=aes-256-cbc',
      `repo1-cipher-pass=${randomBytes(24).toString('base64url')}`,
      'compress-type=zst',
      'compress-level=5',
      'process-max=2',
      'start-fast=y',
      'log-level-console=warn',
      'log-level-file=off',
      `log-path=${path.join(dir, 'pgbr-log')}`,
      `lock-path=${path.join(dir, 'pgbr-lock')}`,
      `spool-path=${path.join(dir, 'pgbr-spool')}`,
      '',
      '[bench]',
      `pg1-path=${source.dataDir}`,
      `pg1-port=${source.port}`,
      `pg1-socket-path=${socketDir}`,
      `pg1-user=${source.superuser}`,
      '',
    ].join('\n'),
  );
  execFileSync('chown', [
    '-R',
    `${osUser}:${osUser}`,
    socketDir,
    repo,
    path.join(dir, 'pgbr-log'),
    path.join(dir, 'pgbr-lock'),
    path.join(dir, 'pgbr-spool'),
    conf,
  ]);
  const hba = path.join(source.dataDir, 'pg_hba.conf');
  await writeFile(hba, `local all all trust\nlocal replication all trust\n${await readFile(hba, 'utf8')}`);
  const target = await createDatabase(source, 'bench_source');
  const admin = await connect('bench', source.target());
  await admin.query(`alter system set unix_socket_directories = '${socketDir}'`);
  await admin.query(`alter system set archive_mode = on`);
  await admin.query(`alter system set archive_command = 'pgbackrest --config=${conf} --stanza=bench archive-push %p'`);
  // Both contenders compete with the same server settings; fsync off is the test default.
  await admin.query(`alter system set max_wal_size = '4GB'`);
  await admin.end();
  await source.stop('fast');
  await source.start();
  return { platform, source, target, dir, conf, socketDir, workerLog: path.join(platform.dir, 'worker.log') };
}

export function pgbackrest(setup: Setup, args: string[]): Promise<string> {
  return asPostgres(['pgbackrest', `--config=${setup.conf}`, '--stanza=bench', ...args]);
}

export async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { seconds: (performance.now() - started) / 1000, value };
}
