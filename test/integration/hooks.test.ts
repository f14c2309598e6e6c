import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, describeTarget, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { hookVariables } from '../../lib/hooks/variables.ts';
import { createHindsightWorker } from '../../worker/create-worker.ts';
import { postAction } from '../support/console-forms.ts';
import { CONSOLE_OWNER, startSignedInConsole } from '../support/console.ts';
import { DOCUMENTED_VARIABLES, parseEnv, running } from '../support/hook-env.ts';
import { hindsightCli } from '../support/hindsight-cli.ts';
import { jsonLinesLogger } from '../support/json-log.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';

describe('hook scripts around backups and restores', () => {
  let platform: Platform;
  let source: PgTarget;
  let worker: Awaited<ReturnType<typeof createHindsightWorker>> | undefined;
  let workerDone: Promise<void> | undefined;
  const logLines: Array<Record<string, unknown>> = [];
  const canary = `canary-${Date.now()}-do-not-leak`;
  const file = (name: string) => path.join(platform.dir, name);
  const hooks = () => platform.ops.hooks;

  before(async () => {
    // A secret in the worker's own environment: no script may see it.
    process.env.HINDSIGHT_TEST_CANARY_SECRET = canary;
    platform = await startPlatform();
    source = await createDatabase(platform.cluster, 'shop');
    const client = await connect('shop', source);
    await client.query(
      `create table orders (id int primary key, note text); insert into orders select g, 'order ' || g from generate_series(1, 2000) g;`,
    );
    await client.end();
    // The worker's log is captured to check that hook output is streamed into it, line by line.
    worker = await createHindsightWorker(platform.runtime, jsonLinesLogger(logLines));
    workerDone = worker.run();
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), verifyAfterBackup: false });
  });

  after(async () => {
    delete process.env.HINDSIGHT_TEST_CANARY_SECRET;
    if (worker) {
      worker.shutdown();
      await workerDone;
      await worker.close();
    }
    await platform?.stop();
  });

  it("passes the backup's context in environment variables, and nothing of the worker's environment", async () => {
    await hooks().setHook({
      target: { workspaceId: 1 },
      kind: 'pre_backup',
      script: `echo "workspace $HINDSIGHT_HOOK_KIND" >> ${file('order.txt')}`,
    });
    await hooks().setHook({
      target: { database: 'shop' },
      kind: 'pre_backup',
      script: `echo "database $HINDSIGHT_HOOK_KIND" >> ${file('order.txt')}\necho pre hook says hello`,
    });
    await hooks().setHook({
      target: { database: 'shop' },
      kind: 'post_backup',
      script: `env > ${file('post-env.txt')}\necho "post hook saw $HINDSIGHT_BACKUP_ID"`,
    });

    const started = await platform.ops.startBackup('shop');
    const outcome = await started.result();
    assert.equal(outcome.status, 'complete');
    assert.equal(outcome.warnings, undefined);
    const backup = await platform.runtime.catalog.getBackup(outcome.backupId);

    assert.equal(
      await readFile(file('order.txt'), 'utf8'),
      'workspace pre_backup\ndatabase pre_backup\n',
      'the workspace hook runs before the database hook',
    );
    const env = parseEnv(await readFile(file('post-env.txt'), 'utf8'));
    assert.equal(env.get('HINDSIGHT_BACKUP_ID'), outcome.backupId);
    assert.equal(env.get('HINDSIGHT_BACKUP_SIZE'), String(backup.sizeBytes));
    assert.equal(env.get('HINDSIGHT_BACKUP_SHA256'), backup.objectSha256);
    assert.equal(env.get('HINDSIGHT_DUMP_SHA256'), backup.sha256);
    assert.equal(env.get('HINDSIGHT_DATABASE_NAME'), 'shop');
    assert.equal(env.get('HINDSIGHT_DATABASE_DBNAME'), 'shop');
    assert.equal(env.get('HINDSIGHT_STORAGES'), 'local');
    assert.equal(env.get('HINDSIGHT_HOOK_KIND'), 'post_backup');
    assert.equal(env.get('HINDSIGHT_HOOK_SCOPE'), 'database');
    assert.equal(env.get('HINDSIGHT_WORKFLOW_ID'), started.workflowId);
    assert.equal(env.get('HINDSIGHT_BACKUP_STATUS'), 'complete');
    assert.equal(env.get('HINDSIGHT_BACKUP_TRIGGER'), 'manual');
    // The file the variable names is the stored object, and its bytes hash to the variable's value.
    const objectPath = env.get('HINDSIGHT_BACKUP_FILE')!;
    assert.equal(objectPath, path.join(platform.backupsDir, 'shop', `${outcome.backupId}.dump.hsb`));
    const bytes = await readFile(objectPath);
    assert.equal(String(bytes.length), env.get('HINDSIGHT_BACKUP_SIZE'));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), env.get('HINDSIGHT_BACKUP_SHA256'));
    assert.equal(env.get('HINDSIGHT_BACKUP_FILES'), `local=${objectPath}`);

    // Exactly the documented variables and the base ones: nothing inherited from the worker.
    const unexpected = [...env.keys()].filter((k) => !DOCUMENTED_VARIABLES.has(k));
    assert.deepEqual(unexpected, [], 'only documented variables reach a script');
    const raw = await readFile(file('post-env.txt'), 'utf8');
    for (const secret of [canary, platform.cluster.password, platform.configEnv.DATABASE_URL!])
      assert.ok(!raw.includes(secret), 'no secret of the worker reaches a script');
    assert.ok(!env.has('DATABASE_URL') && !env.has('PGPASSWORD'));

    // Output streamed into the worker's log, line by line, with the workflow id; and kept with the run.
    const logged = logLines.find((l) => l.msg === 'pre hook says hello');
    assert.ok(logged, "the hook's output line is in the worker log");
    assert.equal(logged.workflowId, started.workflowId);
    assert.equal(logged.hook, 'pre_backup');
    const runs = await hooks().hookRuns('shop', { backupId: outcome.backupId });
    assert.deepEqual(runs.map((r) => `${r.kind}/${r.scope}/${r.status}/${r.exitCode}`).sort(), [
      'post_backup/database/ok/0',
      'pre_backup/database/ok/0',
      'pre_backup/workspace/ok/0',
    ]);
    assert.equal(runs.find((r) => r.kind === 'post_backup')!.outputTail, `post hook saw ${outcome.backupId}\n`);
    await hooks().removeHook({ target: { workspaceId: 1 }, kind: 'pre_backup' });
  });

  it('a failing pre_backup hook cancels the backup with its output as the reason, and nothing is stored', async () => {
    await hooks().setHook({
      target: { database: 'shop' },
      kind: 'pre_backup',
      script: 'echo "the application is mid-migration: not now" >&2\nexit 3',
    });
    await hooks().setHook({
      target: { database: 'shop' },
      kind: 'post_backup',
      script: `echo ran >> ${file('post-ran.txt')}`,
    });
    const before = await readdir(path.join(platform.backupsDir, 'shop'));

    const started = await platform.ops.startBackup('shop');
    const outcome = await started.result();
    assert.equal(outcome.status, 'cancelled');
    assert.match(
      outcome.reason ?? '',
      /database pre_backup hook exited with code 3: the application is mid-migration: not now/,
    );
    const record = await platform.runtime.catalog.getBackup(started.backupId);
    assert.equal(record.status, 'cancelled');
    assert.equal(record.error, outcome.reason);
    assert.equal(record.objectKey, null);
    assert.deepEqual(
      await readdir(path.join(platform.backupsDir, 'shop')),
      before,
      'no object or manifest was written',
    );
    assert.ok(!existsSync(file('post-ran.txt')), 'post_backup hooks do not run after a backup its pre hook cancelled');
    const [latest] = await hooks().hookRuns('shop', { backupId: started.backupId });
    assert.equal(latest!.status, 'failed');
    assert.equal(latest!.exitCode, 3);

    const { stdout } = await hindsightCli(platform.configEnv)(['backups', 'shop', '--json']);
    const listed = (JSON.parse(stdout) as Array<{ id: string; status: string; error: string }>).find(
      (b) => b.id === started.backupId,
    );
    assert.equal(listed?.status, 'cancelled');
    assert.match(listed?.error ?? '', /mid-migration/);
  });

  it('a failing post_backup hook leaves the backup complete, with a warning', async () => {
    await hooks().removeHook({ target: { database: 'shop' }, kind: 'pre_backup' });
    await hooks().setHook({
      target: { database: 'shop' },
      kind: 'post_backup',
      script: 'echo "offsite sync failed: bucket unreachable"\nexit 1',
    });
    const outcome = await (await platform.ops.startBackup('shop')).result();
    assert.equal(outcome.status, 'complete');
    assert.equal(outcome.warnings?.length, 1);
    assert.match(
      outcome.warnings![0]!,
      /database post_backup hook exited with code 1: offsite sync failed: bucket unreachable/,
    );
    const record = await platform.runtime.catalog.getBackup(outcome.backupId);
    assert.equal(record.status, 'complete');
    assert.equal(record.warnings.length, 1);
    assert.equal(record.warnings[0]!.message, outcome.warnings![0]);
    assert.ok(existsSync(path.join(platform.backupsDir, 'shop', `${outcome.backupId}.dump.hsb`)));

    const { stdout } = await hindsightCli(platform.configEnv)(['backups', 'shop']);
    const row = stdout.split('\n').find((l) => l.startsWith(outcome.backupId));
    assert.match(row ?? '', /complete.*offsite sync failed/, 'hindsight backups shows the warning');
    await hooks().removeHook({ target: { database: 'shop' }, kind: 'post_backup' });
  });

  it('post_backup runs after a backup that failed too, told why, so it can undo what pre_backup did', async () => {
    const gone = await createDatabase(platform.cluster, 'gone');
    await platform.ops.addDatabase({ name: 'gone', url: targetUrl(gone), verifyAfterBackup: false });
    const admin = await connect('admin', platform.cluster.target('postgres'));
    await admin.query('drop database gone');
    await admin.end();
    await hooks().setHook({
      target: { database: 'gone' },
      kind: 'pre_backup',
      script: `echo locked > ${file('lock.txt')}`,
    });
    await hooks().setHook({
      target: { database: 'gone' },
      kind: 'post_backup',
      script: `rm ${file('lock.txt')}\necho "$HINDSIGHT_BACKUP_STATUS: $HINDSIGHT_BACKUP_ERROR" > ${file('failed-post.txt')}`,
    });
    const started = await platform.ops.startBackup('gone');
    await assert.rejects(started.result(), (error: Error) => {
      assert.match(String((error.cause as Error)?.message), /database "gone" does not exist/);
      return true;
    });
    assert.ok(!existsSync(file('lock.txt')), 'the post hook undid what the pre hook did');
    assert.match(
      await readFile(file('failed-post.txt'), 'utf8'),
      /^failed: database "gone": database "gone" does not exist/,
    );
    assert.equal((await platform.runtime.catalog.getBackup(started.backupId)).status, 'failed');
    await platform.ops.removeDatabase('gone');
  });

  it('a hanging hook is killed at its timeout, with every process of its group', async () => {
    await hooks().setHook({
      target: { database: 'shop' },
      kind: 'pre_backup',
      timeoutSeconds: 2,
      script: `echo $$ > ${file('hang-shell.pid')}\nsleep 600 &\necho $! > ${file('hang-sleep.pid')}\nwait`,
    });
    const t0 = Date.now();
    const outcome = await (await platform.ops.startBackup('shop')).result();
    const elapsed = Date.now() - t0;
    assert.equal(outcome.status, 'cancelled');
    assert.match(outcome.reason ?? '', /pre_backup hook was killed at its timeout of 2 s/);
    assert.ok(elapsed < 20_000, `the backup ended ${elapsed} ms after it started, not after 600 s`);
    const shellPid = Number(await readFile(file('hang-shell.pid'), 'utf8'));
    const sleepPid = Number(await readFile(file('hang-sleep.pid'), 'utf8'));
    assert.ok(sleepPid > 0 && shellPid > 0);
    assert.ok(!running(sleepPid), `the hook's sleep (pid ${sleepPid}) is gone`);
    assert.ok(!running(shellPid), `the hook's shell (pid ${shellPid}) is gone`);
    const [latest] = await hooks().hookRuns('shop', { limit: 1 });
    assert.equal(latest!.timedOut, true);
    assert.ok(latest!.durationMs >= 2000 && latest!.durationMs < 10_000, `ran ${latest!.durationMs} ms`);
    await hooks().removeHook({ target: { database: 'shop' }, kind: 'pre_backup' });
  });

  it('post_restore receives the restore target (never a password), and its failure is a warning', async () => {
    const backup = await platform.runtime.catalog.latestCompleteBackup('shop');
    await hooks().setHook({
      target: { database: 'shop' },
      kind: 'post_restore',
      script: `env > ${file('restore-env.txt')}\necho "smoke test failed" >&2\nexit 4`,
    });
    const restore = await platform.ops.startRestore({
      database: 'shop',
      backupId: backup.id,
      to: { database: 'shop_copy' },
    });
    const outcome = await restore.result();
    assert.equal(outcome.rowsChecked, 2000);
    const raw = await readFile(file('restore-env.txt'), 'utf8');
    const env = parseEnv(raw);
    assert.equal(env.get('HINDSIGHT_RESTORE_TARGET'), describeTarget({ ...source, database: 'shop_copy' }));
    assert.equal(env.get('HINDSIGHT_RESTORE_TARGET'), outcome.target);
    assert.equal(env.get('HINDSIGHT_RESTORE_DBNAME'), 'shop_copy');
    assert.equal(env.get('HINDSIGHT_RESTORE_PORT'), String(source.port));
    assert.equal(env.get('HINDSIGHT_RESTORE_ID'), outcome.restoreId);
    assert.equal(env.get('HINDSIGHT_BACKUP_ID'), backup.id);
    assert.equal(env.get('HINDSIGHT_WORKFLOW_ID'), restore.workflowId);
    assert.ok(!raw.includes(platform.cluster.password), 'no password reaches the script');
    assert.match(outcome.warnings?.[0] ?? '', /database post_restore hook exited with code 4: smoke test failed/);
    assert.deepEqual(
      (await platform.runtime.catalog.hooks.restoreWarnings(outcome.restoreId)).map((w) => w.message),
      outcome.warnings,
    );
    assert.equal(
      (await platform.runtime.catalog.getBackup(backup.id)).lastRestore?.status,
      'verified',
      'the restore itself stands',
    );
  });

  it('the CLI sets, shows, lists the runs of and removes hooks', async () => {
    const hindsight = hindsightCli(platform.configEnv);
    const stderrOfFailure = (args: string[]) =>
      hindsight(args).then(
        () => '',
        (e: { stderr: string }) => e.stderr,
      );
    const script = path.join(platform.dir, 'notify.sh');
    await import('node:fs/promises').then((fs) => fs.writeFile(script, 'echo from a file\n'));
    await hindsight(['hook', 'set', 'shop', 'post_backup', '--file', script, '--timeout', '45']);
    await hindsight(['hook', 'set', '--workspace', 'default', 'pre_backup', '--script', 'true']);
    const shown = JSON.parse((await hindsight(['hook', 'show', 'shop', '--json'])).stdout) as {
      hooks: Array<{ kind: string; scope: string; script: string; timeoutSeconds: number }>;
      variables: Array<{ name: string }>;
    };
    assert.deepEqual(
      shown.hooks.map((h) => `${h.kind}/${h.scope}/${h.timeoutSeconds}`),
      ['post_backup/database/45', 'post_restore/database/300', 'pre_backup/workspace/300'],
    );
    assert.equal(shown.hooks[0]!.script, 'echo from a file\n');
    assert.ok(shown.variables.some((v) => v.name === 'HINDSIGHT_BACKUP_SHA256'));
    const text = (await hindsight(['hook', 'show', 'shop'])).stdout;
    assert.match(text, /HINDSIGHT_RESTORE_TARGET\s+post_restore\s+where the backup was restored/);

    const runs = JSON.parse((await hindsight(['hook', 'runs', 'shop', '--json'])).stdout) as Array<{
      kind: string;
      status: string;
    }>;
    assert.equal(runs[0]!.kind, 'post_restore');
    assert.equal(runs[0]!.status, 'warning');

    const bad = await stderrOfFailure(['hook', 'set', 'shop', 'before_backup', '--script', 'true']);
    assert.match(bad, /kind must be one of pre_backup, post_backup, post_restore/);
    const badTimeout = await stderrOfFailure([
      'hook',
      'set',
      'shop',
      'pre_backup',
      '--script',
      'true',
      '--timeout',
      '0',
    ]);
    assert.match(badTimeout, /timeout must be at least 1 s/);

    await hindsight(['hook', 'remove', 'shop', 'post_backup']);
    await hindsight(['hook', 'remove', '--workspace', 'default', 'pre_backup']);
    const missing = await stderrOfFailure(['hook', 'remove', 'shop', 'post_backup']);
    assert.match(missing, /database "shop" has no post_backup hook/);
    assert.deepEqual(
      (await hooks().showHooks('shop')).hooks.map((h) => h.kind),
      ['post_restore'],
    );
  });

  it('the console page edits hooks beside the variable list and shows recent runs with their output', async () => {
    const server = await startSignedInConsole(platform);
    try {
      type Answer = { type: string; data: string };
      const post = (action: string, fields: Record<string, string>) =>
        postAction<Answer>(server.url, `/hooks/shop?/${action}`, '', fields, server.fetch);

      const saved = await post('save', {
        kind: 'pre_backup',
        scope: 'database',
        script: 'echo "from the console"\r\n',
        timeoutSeconds: '30',
      });
      assert.equal(saved.type, 'success', JSON.stringify(saved));
      const [hook] = (await hooks().showHooks('shop')).hooks.filter((h) => h.kind === 'pre_backup');
      assert.equal(hook?.script, 'echo "from the console"\n');
      assert.equal(hook?.timeoutSeconds, 30);
      assert.equal(hook?.updatedBy, CONSOLE_OWNER.email);
      const zeroTimeout = { kind: 'pre_backup', scope: 'database', script: 'true', timeoutSeconds: '0' };
      const refused = await post('save', zeroTimeout);
      assert.equal(refused.type, 'failure');
      assert.match(refused.data, /timeout must be at least 1 s/);

      const outcome = await (await platform.ops.startBackup('shop')).result();
      assert.equal(outcome.status, 'complete');
      const page = await (await server.fetch(`${server.url}/hooks/shop`)).text();
      assert.match(
        page,
        /echo &quot;from the console&quot;|echo "from the console"/,
        'the editor holds the saved script',
      );
      for (const v of hookVariables) assert.ok(page.includes(v.name), `the variable list names ${v.name}`);
      assert.match(page, /HINDSIGHT_RESTORE_TARGET<\/dt>\s*<dd[^>]*>where the backup was restored/);
      assert.ok(page.includes(outcome.backupId), 'the run of the new backup is listed');
      assert.match(page, /<pre class="output[^"]*">from the console\n<\/pre>/, 'with its output');
      assert.match(page, /which can write/, 'the backup role check is shown');
      assert.ok(page.includes('Create read-only role'));
      assert.ok(!page.includes(platform.cluster.password), 'no secret reaches the browser');

      const overview = await (await server.fetch(`${server.url}/`)).text();
      assert.ok(overview.includes('href="/hooks/shop"'), 'the database card links to its hooks');
      assert.match(
        overview,
        /Warning<\/span>\s*<span[^>]*>database post_backup hook exited with code 1: offsite sync failed/,
        "a backup's warning is shown under it",
      );
      const api = (await (await server.fetch(`${server.url}/api/v1/overview`)).json()) as {
        backups: Array<{ warnings: string[] }>;
      };
      assert.equal(api.backups.filter((b) => b.warnings.length > 0).length, 1);

      const removed = await post('remove', { kind: 'pre_backup', scope: 'database' });
      assert.equal(removed.type, 'success', JSON.stringify(removed));
      assert.deepEqual(
        (await hooks().showHooks('shop')).hooks.map((h) => h.kind),
        ['post_restore'],
      );
      assert.equal((await server.fetch(`${server.url}/hooks/nosuchdb`)).status, 404);
    } finally {
      await server.close();
    }
  });
});
