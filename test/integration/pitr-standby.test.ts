import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, chown, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { serverToolOfMajor, toolFor } from '../../lib/pg/tools.ts';
import { parseLsn } from '../../lib/wal/lsn.ts';
import type { BaseBackupProgress } from '../../temporal/contracts/pitr.ts';
import { freePort } from '../support/ports.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import {
  enablePitr,
  restore,
  restoredRows,
  startPitrSource,
  stopArchiver,
  stopRestoredServer,
  takeBaseBackup,
  waitUntilArchived,
  writeRows,
  type PitrSource,
  type Row,
} from '../support/pitr-fixture.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Base backups taken from a real streaming standby (pg_basebackup -R of the source), while WAL
 * keeps streaming from the primary: the catalog says where the backup came from, the backup's own
 * label says it too, and a restore to `latest` from it has every row the primary committed.
 */
const run = promisify(execFile);
const cli = path.resolve('bin/hindsight.mjs');
const osUser = process.env.HINDSIGHT_PG_OS_USER ?? 'postgres';
const asRoot = process.getuid?.() === 0;

/** PostgreSQL refuses root: its tools run as the server's user, as lib/pg/cluster.ts does. */
async function asServerUser(file: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  const [cmd, cmdArgs] = asRoot ? ['runuser', ['-u', osUser, '--', file, ...args]] : [file, args];
  await run(cmd, cmdArgs, { cwd: '/', env: { ...process.env, ...env } });
}

async function query<T extends object>(target: PgTarget, sql: string): Promise<T[]> {
  const client = await connect('test', target);
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('point-in-time recovery: base backups from a streaming standby', () => {
  let platform: Platform;
  let source: PitrSource;
  let standby: PgTarget;
  let standbyData = '';
  const started: string[] = [];

  /** Until the standby is in recovery and has replayed everything the primary has written so far. */
  async function standbyCaughtUp(): Promise<void> {
    const lsn = (await source.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn'))[0]!.lsn;
    await waitFor(
      `the standby to replay ${lsn}`,
      async () => {
        const [row] = await query<{ recovery: boolean; replayed: string | null }>(
          standby,
          'select pg_is_in_recovery() as recovery, pg_last_wal_replay_lsn()::text as replayed',
        ).catch(() => [undefined]);
        return row?.recovery && row.replayed && parseLsn(row.replayed) >= parseLsn(lsn) ? true : undefined;
      },
      30_000,
      200,
    );
  }

  before(async () => {
    platform = await startPlatform();
    source = await startPitrSource(platform, 'shop');
    await platform.startWorker();
    await enablePitr(platform, source);
    // A backup taken on a standby is refused while WAL written with full_page_writes = off (as the
    // test clusters run) may have been replayed since its restartpoint: turn it on, then checkpoint.
    await source.query('alter system set full_page_writes = on');
    await source.query('select pg_reload_conf()');
    await waitFor(
      'full_page_writes on',
      async () =>
        (await source.query<{ v: string }>("select current_setting('full_page_writes') as v"))[0]?.v === 'on'
          ? true
          : undefined,
      10_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    await source.query('checkpoint');

    const parent = path.join(platform.dir, 'standby');
    await mkdir(parent, { mode: 0o700 });
    if (asRoot) {
      const uid = Number((await run('id', ['-u', osUser])).stdout.trim());
      const gid = Number((await run('id', ['-g', osUser])).stdout.trim());
      await chown(parent, uid, gid);
    }
    standbyData = path.join(parent, 'pg');
    const port = await freePort();
    const t = source.target;
    const tools = {
      basebackup: await toolFor('pg_basebackup', source.cluster.major),
      pgCtl: await serverToolOfMajor('pg_ctl', source.cluster.major),
    };
    await asServerUser(
      tools.basebackup.path,
      [
        '-D',
        standbyData,
        '-R',
        '-X',
        'stream',
        '--checkpoint=fast',
        '--no-password',
        '-h',
        t.host,
        '-p',
        String(t.port),
        '-U',
        t.user,
      ],
      { PGPASSWORD: t.password ?? '' },
    );
    started.push(standbyData);
    await appendFile(path.join(standbyData, 'postgresql.auto.conf'), `port = ${port}\n`);
    await asServerUser(tools.pgCtl.path, [
      'start',
      '-D',
      standbyData,
      '-l',
      path.join(parent, 'server.log'),
      '-w',
      '-t',
      '60',
    ]);
    standby = { ...t, host: '127.0.0.1', port };
    await standbyCaughtUp();
  });

  after(async () => {
    await platform?.client.workflow
      .getHandle('walchain/shop')
      .terminate('test over')
      .catch(() => undefined);
    for (const dir of started) await stopRestoredServer(dir);
    if (platform) await stopArchiver(platform, 'shop');
    await source?.cluster.stop('immediate').catch(() => undefined);
    await platform?.stop();
  });

  it(
    'takes the base backup from the standby, records it as such, and restores every row of the primary from it',
    { timeout: 120_000 },
    async () => {
      const [sysid] = await query<{ id: string }>(
        standby,
        'select system_identifier::text as id from pg_control_system()',
      );
      assert.equal(
        sysid!.id,
        (await source.query<{ id: string }>('select system_identifier::text as id from pg_control_system()'))[0]!.id,
        'the standby is a copy of the source cluster',
      );
      await platform.runtime.catalog.wal.updateSettings('shop', { baseBackupUrl: targetUrl(standby) });
      assert.equal((await platform.runtime.catalog.wal.config('shop')).hasBaseBackupUrl, true);

      const rows: Row[] = await writeRows(source, 3000, 50, 'before the base backup');
      const progress: BaseBackupProgress = await takeBaseBackup(platform, 'shop', 'from-standby');
      assert.equal(progress.stage, 'complete');
      const [backup] = await platform.runtime.catalog.wal.baseBackupsOf('shop', { status: 'complete' });
      assert.equal(backup!.id, progress.baseBackupId);
      assert.equal(backup!.source, 'standby');
      assert.equal(backup!.systemIdentifier, sysid!.id);

      rows.push(...(await writeRows(source, 3000, 50, 'after the base backup')));
      await waitUntilArchived(platform, source);

      const dir = path.join(platform.dir, 'restored-latest');
      const outcome = await restore(platform, { database: 'shop', target: 'latest', to: { directory: dir } }, 'latest');
      started.push(dir);
      assert.equal(outcome.baseBackupId, backup!.id, "the restore started from the standby's base backup");
      // The server wrote the label while taking the backup; recovery keeps it as backup_label.old.
      assert.match(await readFile(path.join(dir, 'backup_label.old'), 'utf8'), /^BACKUP FROM: standby$/m);
      const restored = await restoredRows(source, outcome.port!);
      const primary = await source.query<{ id: number }>('select id from events order by id');
      assert.ok(rows.length >= 40, `the writer committed ${rows.length} rows`);
      const restoredIds = new Set(restored.map((r) => r.id));
      assert.deepEqual(
        rows.filter((r) => !restoredIds.has(r.id)).map((r) => r.id),
        [],
        'every committed row is restored',
      );
      assert.deepEqual(
        restored.map((r) => r.id),
        primary.map((r) => r.id),
        'the same ids as the primary',
      );
    },
  );

  it(
    'hindsight db pitr <db> on --standby <url> | none sets where base backups come from',
    { timeout: 90_000 },
    async () => {
      const env = { ...process.env, ...platform.configEnv };
      const pitrOn = async (standbyFlag: string) => {
        const { stdout } = await run(
          process.execPath,
          [cli, 'db', 'pitr', 'shop', 'on', '--standby', standbyFlag, '--json'],
          { env },
        );
        const result = JSON.parse(stdout) as { baseBackup: { baseBackupId: string; workflowId: string } | null };
        assert.ok(result.baseBackup, 'turning PITR on starts a base backup');
        await platform.client.workflow.getHandle(result.baseBackup.workflowId).result();
        return platform.runtime.catalog.wal.getBaseBackup(result.baseBackup.baseBackupId);
      };

      const refused = await run(
        process.execPath,
        [cli, 'db', 'pitr', 'shop', 'on', '--standby', 'standby.example:5432'],
        { env },
      ).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );
      assert.ok(refused, 'a standby that is not a postgres:// URL is refused');
      assert.equal(refused.code, 2, 'as a usage error');
      assert.match(refused.stderr, /--standby must be the postgres:\/\/ URL of a streaming standby/);
      assert.equal((await platform.runtime.catalog.wal.config('shop')).hasBaseBackupUrl, true, 'and changes nothing');

      const fromPrimary = await pitrOn('none');
      assert.equal((await platform.runtime.catalog.wal.config('shop')).hasBaseBackupUrl, false);
      assert.equal(await platform.runtime.catalog.wal.baseBackupTarget('shop'), null);
      assert.deepEqual([fromPrimary.status, fromPrimary.source], ['complete', 'primary']);

      await standbyCaughtUp();
      const fromStandby = await pitrOn(targetUrl(standby));
      const target = await platform.runtime.catalog.wal.baseBackupTarget('shop');
      assert.deepEqual([target?.host, target?.port, target?.database], ['127.0.0.1', standby.port, 'shop']);
      assert.deepEqual([fromStandby.status, fromStandby.source], ['complete', 'standby']);
    },
  );
});
