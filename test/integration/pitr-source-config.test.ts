import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, appendFile, chmod, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPitrActivities, type PitrPlanView, type PitrRestoreResult } from '../../activities/pitr.ts';
import { createLogger } from '../../lib/logger.ts';
import { connect } from '../../lib/pg/connection.ts';
import { toolFor } from '../../lib/pg/tools.ts';
import { SOURCE_CONFIG_DIR } from '../../lib/pitr/source-config.ts';
import { canSwitchUser, sandboxUserIds } from '../../lib/sandbox/os-user.ts';
import type { PitrOutcome } from '../../temporal/contracts/pitr.ts';
import { restore, restoredRows, takeBaseBackup, waitUntilArchived, writeRows } from '../support/pitr-fixture.ts';
import { type PitrScenario, usePitrScenario } from '../support/pitr-scenario.ts';

/**
 * A base backup carries the source's configuration, and whoever controls the source writes it:
 * here ALTER SYSTEM sets a recovery_end_command, an archive_cleanup_command and a
 * shared_preload_libraries naming a library that does not exist, postgresql.conf includes a file
 * with another recovery_end_command and a session_preload_libraries, and pg_hba.conf starts with
 * `trust` lines. Before the restore wrote its own configuration, the restored server read all of
 * it: startup failed on the absent library (and, without that line, the commands ran as the
 * restore's server user and trust let anyone in). Now no marker appears, the server starts, a login
 * without the right password is refused over TCP and the socket, the source's files are kept aside
 * unread, and the server runs as the sandbox user without the worker's environment.
 */
const run = promisify(execFile);
const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );
const CANARY = `hindsight-canary-${randomBytes(6).toString('hex')}`;

describe("point-in-time restore: the source's configuration never reaches the restored server", () => {
  let markers: string[] = [];

  /** What whoever controls the source can write into its configuration, then a base backup that carries it. */
  async function writeHostileConfiguration({ platform, source }: PitrScenario): Promise<void> {
    const markerDir = path.join(platform.dir, 'markers');
    await mkdir(markerDir, { recursive: true });
    // Writable by anyone: a command that ran as any user would leave its marker.
    await chmod(markerDir, 0o777);
    markers = ['recovery-end', 'archive-cleanup', 'included-recovery-end'].map((m) => path.join(markerDir, m));
    const dataDir = source.cluster.dataDir;
    await writeFile(
      path.join(dataDir, 'pg_hba.conf'),
      `local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n${await readFile(path.join(dataDir, 'pg_hba.conf'), 'utf8')}`,
    );
    const admin = await connect('source', source.cluster.target('postgres'));
    try {
      await admin.query('select pg_reload_conf()');
      await admin.query(`alter system set recovery_end_command = 'touch ${markers[0]}'`);
      await admin.query(`alter system set archive_cleanup_command = 'touch ${markers[1]}'`);
      await admin.query("alter system set shared_preload_libraries = 'hindsight_absent_lib'");
    } finally {
      await admin.end();
    }
    // Not reloaded: the source keeps serving; only the copy in the base backup carries it.
    await writeFile(
      path.join(dataDir, 'hostile-include.conf'),
      `recovery_end_command = 'touch ${markers[2]}'\nsession_preload_libraries = 'hindsight_absent_session_lib'\n`,
    );
    await appendFile(
      path.join(dataDir, 'postgresql.conf'),
      "\ninclude 'hostile-include.conf'\ninclude_if_exists '/etc/hindsight-outside.conf'\n",
    );

    await takeBaseBackup(platform, 'hostile', 'first');
    await writeRows(source, 2_000, 100);
    await waitUntilArchived(platform, source);
  }

  before(() => {
    // A variable of the worker's environment the restored server must not inherit.
    process.env.HINDSIGHT_TEST_CANARY = CANARY;
  });
  const pitr = usePitrScenario('hostile', {
    setUp: writeHostileConfiguration,
    tearDown: () => {
      delete process.env.HINDSIGHT_TEST_CANARY;
    },
  });

  async function assertNoMarker(): Promise<void> {
    for (const marker of markers)
      assert.equal(await exists(marker), false, `${path.basename(marker)}: the source's command did not run`);
  }

  /** psql with no password available (-w: never prompt): the server must ask for one, or refuse the wrong one. */
  async function login(host: string, port: number, password?: string): Promise<string> {
    const psql = await toolFor('psql');
    const env: Record<string, string> = {
      PATH: '/usr/bin:/bin',
      PGCONNECT_TIMEOUT: '5',
      PGPASSFILE: '/dev/null',
      ...(password ? { PGPASSWORD: password } : {}),
    };
    return run(
      psql.path,
      ['-w', '-X', '-h', host, '-p', String(port), '-U', pitr.source.target.user, '-d', 'hostile', '-Atc', 'select 1'],
      { env },
    ).then(
      ({ stdout }) => `let in: ${stdout.trim()}`,
      (error: { stderr?: string }) => String(error.stderr),
    );
  }

  async function assertPasswordRequired(host: string, port: number): Promise<void> {
    assert.match(
      await login(host, port),
      /fe_sendauth: no password supplied/,
      `${host}: a login without a password is refused`,
    );
    assert.match(
      await login(host, port, 'not-the-password'),
      /password authentication failed for user/,
      `${host}: a wrong password is refused`,
    );
  }

  /** The postmaster runs as the sandbox user, without the worker's environment. */
  async function assertServerProcess(dataDir: string): Promise<void> {
    const pid = Number.parseInt((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]!, 10);
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
    assert.ok(
      !environ.includes(CANARY) && !environ.includes('DATABASE_URL='),
      "the server has none of the worker's environment",
    );
    if (!canSwitchUser()) {
      console.log("# not root: the restored server runs as the worker's own user, so its OS user is not checked");
      return;
    }
    const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
    assert.equal(Number(uid), (await sandboxUserIds()).uid, 'the server runs as the sandbox user');
  }

  async function assertSourceFilesKept(dataDir: string): Promise<void> {
    const kept = path.join(dataDir, SOURCE_CONFIG_DIR);
    assert.match(
      await readFile(path.join(kept, 'postgresql.auto.conf'), 'utf8'),
      /shared_preload_libraries = 'hindsight_absent_lib'/,
    );
    assert.match(await readFile(path.join(kept, 'pg_hba.conf'), 'utf8'), /^local all all trust\n/);
    assert.match(await readFile(path.join(kept, 'postgresql.conf'), 'utf8'), /include 'hostile-include\.conf'/);
    assert.match(await readFile(path.join(kept, 'hostile-include.conf'), 'utf8'), /session_preload_libraries/);
    assert.ok(await exists(path.join(kept, 'pg_ident.conf')));
    assert.match(
      await readFile(path.join(kept, 'HINDSIGHT-README.txt'), 'utf8'),
      /\/etc\/hindsight-outside\.conf .*outside the data directory, not copied/,
    );
    assert.equal(await exists(path.join(dataDir, 'hostile-include.conf')), false, 'the included file moved too');
    assert.equal(await readFile(path.join(dataDir, 'postgresql.auto.conf'), 'utf8'), '');
    assert.doesNotMatch(await readFile(path.join(dataDir, 'pg_hba.conf'), 'utf8'), /trust/);
    assert.doesNotMatch(
      await readFile(path.join(dataDir, 'postgresql.conf'), 'utf8'),
      /include|preload|hindsight_absent|touch/,
    );
  }

  it("a restore to a directory: no command of the source runs, logins need the password, the source's files are kept aside", async () => {
    const { dir, outcome } = await pitr.restoreInto('restored-dir', 'latest', 'to-dir');
    assert.ok(outcome.port);
    await assertNoMarker();
    const all = await pitr.source.query<{ id: number }>('select id from events order by id');
    assert.deepEqual(
      (await restoredRows(pitr.source, outcome.port)).map((r) => r.id),
      all.map((r) => r.id),
      'the server started and holds the data',
    );
    await assertPasswordRequired('127.0.0.1', outcome.port);
    await assertPasswordRequired(dir, outcome.port);
    const client = await connect('restored', {
      ...pitr.source.target,
      host: '127.0.0.1',
      port: outcome.port,
      sslmode: 'disable',
    });
    try {
      const { rows } = await client.query<{ libs: string; cleanup: string; end: string }>(
        "select current_setting('shared_preload_libraries') as libs, current_setting('archive_cleanup_command') as cleanup, current_setting('recovery_end_command') as end",
      );
      assert.deepEqual(rows[0], { libs: '', cleanup: '', end: '' });
    } finally {
      await client.end();
    }
    await assertServerProcess(dir);
    await assertSourceFilesKept(dir);
    if (canSwitchUser())
      assert.equal((await stat(dir)).uid, (await sandboxUserIds()).uid, 'the directory belongs to the sandbox user');
  });

  it('a restore to a sandbox: no command of the source runs, it listens on a private socket only and asks for a password', async () => {
    let inspected = false;
    const activities = createPitrActivities({
      catalog: pitr.platform.runtime.catalog,
      keyring: pitr.platform.runtime.keyring,
      logger: createLogger('test-restore'),
      budget: { sandboxRoot: pitr.platform.config.sandboxRoot },
      inspectPromoted: async ({ dataDir, host, port }) => {
        assert.ok(host.startsWith(pitr.platform.config.sandboxRoot), `the socket is in the sandbox (${host})`);
        assert.equal((await stat(host)).mode & 0o777, 0o700, 'a private socket directory');
        await assertPasswordRequired(host, port);
        assert.match(await login('127.0.0.1', port), /Connection refused|could not connect/, 'no TCP at all');
        await assertServerProcess(dataDir);
        await assertSourceFilesKept(dataDir);
        inspected = true;
      },
    });
    const env = new MockActivityEnvironment();
    const plan = (await env.run(activities.planPitrRestore, {
      database: 'hostile',
      target: 'latest' as const,
    })) as PitrPlanView;
    const result = (await env.run(activities.restoreToPointInTime, {
      database: 'hostile',
      restoreId: `pitr-${randomBytes(6).toString('hex')}`,
      baseBackupId: plan.baseBackupId,
      timeline: plan.timeline,
      target: 'latest' as const,
      to: { sandbox: true as const },
      endsAtHead: plan.endsAtHead,
    })) as PitrRestoreResult;
    assert.ok(inspected, 'the promoted sandbox was looked at');
    assert.equal(result.kept, false);
    await assertNoMarker();
  });

  it('hindsight restore --latest --to-sandbox succeeds, and no command of the source ran', async () => {
    const env = { ...process.env, ...pitr.platform.configEnv };
    const { stdout } = await run(
      process.execPath,
      [path.resolve('bin/hindsight.mjs'), 'restore', 'hostile', '--latest', '--to-sandbox', '--wait', '--json'],
      { env },
    );
    const outcome = JSON.parse(stdout) as PitrOutcome;
    assert.equal(outcome.kept, false);
    await assertNoMarker();
  });

  it('refuses a directory outside the restore root, also through a link, naming the root and the setting', async () => {
    const outside = path.join('/var/tmp', `hindsight-outside-${randomBytes(4).toString('hex')}`);
    const link = path.join(pitr.platform.dir, 'leads-outside');
    await symlink('/var/tmp', link);
    for (const [id, dir] of [
      ['outside', outside],
      ['through-link', path.join(link, path.basename(outside))],
    ] as const) {
      await assert.rejects(
        restore(pitr.platform, { database: 'hostile', target: 'latest', to: { directory: dir } }, id),
        (error: unknown) => {
          assert.ok(error instanceof WorkflowFailedError);
          const message = String((error.cause as { message?: string } | undefined)?.message);
          assert.match(
            message,
            /is outside the restore root of this worker \(.*\): choose a directory under it, or set HINDSIGHT_RESTORE_ROOT/,
          );
          return true;
        },
      );
    }
    assert.equal(await exists(outside), false, 'nothing was made there');
    assert.deepEqual(
      (await readdir('/var/tmp')).filter((n) => n === path.basename(outside)),
      [],
    );
  });
});
