/**
 * `npm start` as a process supervisor, on its embedded catalog, its own Temporal dev server, worker
 * and console, on a data directory and ports of its own. While a backup of a database large enough
 * to take some seconds runs, each child is killed once (SIGKILL): the worker, Temporal, the
 * catalog's PostgreSQL and the console. Each must be started again (its lines say so), and the
 * backup must complete exactly once: one complete backup row, one object (and its manifest) in
 * storage and no partial one, restoring to tables with the source's ordered hashes. Then a second
 * start is refused naming the first's pid, and after the supervisor itself is killed with SIGKILL
 * the next start takes over its lock, stops the children the killed one left, comes up, and stops on Ctrl-C.
 * The worker runs with the allocator setting of lib/supervisor/worker-env.ts, read from its /proc environ.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../lib/config.ts';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { processAlive } from '../../lib/supervisor/process-alive.ts';
import { WORKER_MALLOC_ARENA_MAX, WORKER_V8_FLAGS } from '../../lib/supervisor/worker-env.ts';
import { osUser } from '../../cli/access.ts';
import { operatorActor } from '../../services/authz.ts';
import { metaClusterDir } from '../../services/runtime.ts';
import { tableHashes } from '../support/guide-platform.ts';
import { startLoading } from '../support/loading.ts';
import { childOf, cleanUpStartBench, look, prepareStartBench, type StartBench } from '../support/npm-start-bench.ts';
import { runToEnd, StartProcess } from '../support/npm-start-process.ts';
import { createDatabase } from '../support/platform.ts';
import { waitFor } from '../support/wait.ts';

/** Long enough to dump that the kills land while the backup runs (a few seconds per attempt here). */
const BULK_SQL = `create table readings (id bigint primary key, sensor int, value double precision, note text);
  insert into readings select g, g % 977, g / 7.0, md5(g::text) || md5((g * 7)::text) from generate_series(1, 1200000) g;
  create table sensors (id int primary key, name text);
  insert into sensors select g, 'sensor ' || g from generate_series(0, 976) g`;

const actor = operatorActor(osUser());

/** A partial object of a dump under way past its first MiB (other than `not`, an earlier attempt's). */
async function partialBackupFile(dir: string, not?: string): Promise<string | undefined> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.includes('.partial-') && n !== not)) {
    const size = await stat(path.join(dir, name)).then(
      (s) => s.size,
      () => 0,
    );
    if (size > 1024 * 1024) return name;
  }
  return undefined;
}

async function killEachChild(start: StartProcess, config: Config, backupsDir: string, killedDump: string) {
  const killAndSeeRestarted = async (name: string, pid: number, how: RegExp) => {
    const from = start.output.length;
    process.kill(pid, 'SIGKILL');
    await start.line(how, 60_000, from);
    await start.line(new RegExp(`INFO: ${name} is up again \\(pid \\d+\\)`), 90_000, from);
  };
  const childPid = (pattern: RegExp) =>
    waitFor(`a child of npm start matching ${pattern}`, () => childOf(start.pid, pattern), 10_000);
  const restarted = (name: string) => new RegExp(`WARN: ${name} was killed by SIGKILL; restarting it in 1 s`);

  const worker = await childPid(/worker\/main\.ts$/);
  // glibc reads MALLOC_ARENA_MAX, and V8 NODE_OPTIONS, when the process starts: only the environment it was started with counts.
  const environ = (await readFile(`/proc/${worker}/environ`, 'utf8')).split('\0');
  assert.ok(
    environ.includes(`MALLOC_ARENA_MAX=${WORKER_MALLOC_ARENA_MAX}`),
    `the worker starts with MALLOC_ARENA_MAX=${WORKER_MALLOC_ARENA_MAX}: ${environ.filter((e) => e.startsWith('MALLOC')).join(' ') || 'unset'}`,
  );
  const nodeOptions = environ.find((e) => e.startsWith('NODE_OPTIONS='));
  assert.ok(
    nodeOptions?.includes(WORKER_V8_FLAGS),
    `the worker starts with ${WORKER_V8_FLAGS}: ${nodeOptions ?? 'unset'}`,
  );
  await killAndSeeRestarted('worker', worker, restarted('worker'));
  await waitFor('the dump to run again on the new worker', () => partialBackupFile(backupsDir, killedDump), 90_000);
  const temporalPort = config.temporalAddress.split(':')[1];
  const temporal = await childPid(new RegExp(`temporal server start-dev .*--port ${temporalPort}`));
  await killAndSeeRestarted('temporal', temporal, restarted('temporal'));
  const pidFile = path.join(metaClusterDir(config), 'postmaster.pid');
  const postmaster = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  const gone = new RegExp(`WARN: catalog \\(pid ${postmaster}\\) is gone; restarting it in 1 s`);
  await killAndSeeRestarted('catalog', postmaster, gone);
  await killAndSeeRestarted('web', await childPid(/web\/main\.ts$/), restarted('web'));
}

describe('npm start supervises its children', () => {
  let bench: StartBench;
  let bulk: PgTarget;
  let env: Record<string, string>;
  let config: Config;
  const starts: StartProcess[] = [];

  before(async () => {
    bench = await prepareStartBench('hindsight-supervisor-');
    ({ env, config } = bench);
    bulk = await createDatabase(bench.source, 'bulk');
    const { loaded } = await startLoading('bulk', bulk, BULK_SQL);
    starts.push(new StartProcess(env));
    await loaded;
  });

  after(() => cleanUpStartBench(bench, starts));

  it('restarts each child killed mid-backup, and the backup completes exactly once', async () => {
    const [first] = starts as [StartProcess];
    await first.line(/console on http/, 120_000);
    // The demo's first backup and restore are the last thing a first start does.
    await first.line(/restored the first backup/, 120_000);
    await look(config, (services) =>
      services.databases.add(actor, { name: 'bulk', url: targetUrl(bulk), verifyAfterBackup: false }),
    );
    const { workflowId } = await look(config, (services) => services.backups.start(actor, 'bulk'));
    const backupsDir = path.join(config.backupsDir, 'bulk');
    const underWay = await waitFor('the dump to be under way', () => partialBackupFile(backupsDir), 120_000);

    await killEachChild(first, config, backupsDir, underWay);

    const done = await waitFor(
      'the backup of bulk to end',
      () =>
        look(config, async (_services, runtime) => {
          const rows = await runtime.catalog.listBackups('bulk');
          return rows.every((r) => r.status !== 'running') ? rows : undefined;
        }).catch(() => undefined),
      180_000,
      1_000,
    );
    assert.deepEqual(
      done.map((b) => b.status),
      ['complete'],
      'one backup row, complete',
    );
    const id = done[0]!.id;
    assert.deepEqual((await readdir(backupsDir)).sort(), [`${id}.dump.hsb`, `${id}.json`, `${id}.roles.hsb`]);

    await look(config, async (services) => {
      const restore = await services.restores.start(actor, {
        database: 'bulk',
        backupId: id,
        to: { database: 'bulk_restored' },
      });
      await restore.result();
    });
    const attempts = await look(config, async (services) => {
      const history = await services.ctx.temporal.workflow.getHandle(workflowId).fetchHistory();
      return (history.events ?? []).flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
    });
    assert.ok(
      attempts.some((a) => a >= 2),
      `the dump ran again after the worker was killed (attempts: ${attempts.join(',')})`,
    );
    const restored = await tableHashes({ ...bulk, database: 'bulk_restored' });
    assert.deepEqual(Object.keys(restored), ['readings', 'sensors']);
    assert.deepEqual(restored, await tableHashes(bulk));
    assert.equal(first.linesMatching(/giving up/).length, 0, 'no child was given up');
  });

  it('refuses a second start while the first runs, naming its pid', async () => {
    const [first] = starts as [StartProcess];
    const second = await runToEnd(env, 60_000);
    assert.equal(second.code, 1);
    assert.match(
      second.output,
      new RegExp(`Hindsight is already running on ${config.dataDir} \\(pid ${first.pid}\\): stop it first`),
    );
    assert.equal(await processAlive(first.pid), true, 'the first start runs on');
  });

  it('takes over the lock of a start killed with SIGKILL, stops the children it left, and stops on Ctrl-C', async () => {
    const [first] = starts as [StartProcess];
    const left = (
      await Promise.all(
        [/worker\/main\.ts$/, /temporal server start-dev/, /web\/main\.ts$/].map((p) => childOf(first.pid, p)),
      )
    ).filter((pid): pid is number => pid !== undefined);
    assert.equal(left.length, 3, 'the worker, Temporal and the console run under the first start');
    first.child.kill('SIGKILL');
    await first.exited;
    const next = new StartProcess(env);
    starts.push(next);
    await next.line(
      new RegExp(`WARN: taking over the lock on ${config.dataDir} from pid ${first.pid}, which is no longer running`),
      60_000,
    );
    await next.line(/console on http/, 120_000);
    for (const pid of left)
      assert.equal(await processAlive(pid), false, `pid ${pid}, a child of the killed start, is gone`);
    next.interrupt();
    const { code } = await next.exited;
    assert.equal(code, 0, next.output.slice(-3000));
    assert.ok(next.linesMatching(/INFO: stopped$/).length === 1, 'it says it stopped');
    await assert.rejects(readFile(path.join(config.dataDir, 'start.lock')), { code: 'ENOENT' });
    await assert.rejects(readFile(path.join(config.dataDir, 'start.children.json')), { code: 'ENOENT' });
  });
});
