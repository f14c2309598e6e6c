/**
 * `npm start` killed as a whole: SIGKILL to its process group while a backup dumps, a verification
 * restores into its sandbox and the WAL of the source streams into the archive, then started again.
 * Everything resumes: the backup completes exactly once and restores identical, the verification
 * ends successful, the archive reaches WAL written while Hindsight was down. Nothing stays behind
 * longer than one sweep: no process of the killed start, no sandbox server or directory, no
 * complete segment in the spool, no replication slot but the archive's. `doctor --deep` finds the
 * catalog, Temporal and storage in agreement.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { osUser } from '../../cli/access.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { processAlive } from '../../lib/supervisor/process-alive.ts';
import { operatorActor } from '../../services/authz.ts';
import { runDeepChecks } from '../../services/doctor-deep.ts';
import { dumpIsCopying } from '../support/fault-checks.ts';
import { tableHashes } from '../support/guide-platform.ts';
import { startLoading } from '../support/loading.ts';
import {
  childOf,
  cleanUpStartBench,
  look,
  prepareStartBench,
  processCommandLines,
  type StartBench,
} from '../support/npm-start-bench.ts';
import { StartProcess } from '../support/npm-start-process.ts';
import { createDatabase } from '../support/platform.ts';
import { waitFor } from '../support/wait.ts';

/** A dump of some seconds, and a restore into the sandbox long enough to be caught in it. */
const BULK_SQL = `create table readings (id bigint primary key, sensor int, value double precision, note text);
  insert into readings select g, g % 977, g / 7.0, md5(g::text) || md5((g * 7)::text) from generate_series(1, 1200000) g;
  create table sensors (id int primary key, name text);
  insert into sensors select g, 'sensor ' || g from generate_series(0, 976) g`;

const actor = operatorActor(osUser());

async function onSource<T>(target: PgTarget, sql: string): Promise<[T, ...T[]]> {
  const client = await connect('fault test', target);
  try {
    return (await client.query(sql)).rows as [T, ...T[]];
  } finally {
    await client.end();
  }
}

/** Names in `dir` (none when it does not exist). */
const entries = (dir: string) => readdir(dir).catch(() => [] as string[]);

describe('npm start killed as a whole', () => {
  let bench: StartBench;
  let bulk: PgTarget;
  const starts: StartProcess[] = [];
  const sandboxes = () => path.join(bench.dir, 'sandboxes');

  before(async () => {
    bench = await prepareStartBench('hindsight-killed-');
    bulk = await createDatabase(bench.source, 'bulk');
    const { loaded } = await startLoading('bulk', bulk, BULK_SQL);
    starts.push(new StartProcess(bench.env));
    await loaded;
  });

  after(() => cleanUpStartBench(bench, starts));

  const backupsOf = (database: string) =>
    look(bench.config, (_services, runtime) => runtime.catalog.listBackups(database));

  it('resumes a backup, a verification and WAL streaming after SIGKILL to its process group', async () => {
    const { config } = bench;
    const [first] = starts as [StartProcess];
    await first.line(/console on http/, 120_000);
    await first.line(/restored the first backup/, 120_000);
    await look(config, (services) =>
      services.databases.add(actor, { name: 'bulk', url: targetUrl(bulk), verifyAfterBackup: false }),
    );
    await look(config, (services) => services.backups.start(actor, 'bulk'));
    const [earlier] = await waitFor(
      'the first backup of bulk',
      async () => ((await backupsOf('bulk')).some((b) => b.status === 'complete') ? backupsOf('bulk') : undefined),
      120_000,
      1_000,
    );
    await look(config, (services) => services.pitr.enable(actor, 'bulk', { partialIntervalMs: 500 }));
    await waitFor(
      'WAL of bulk in the archive',
      () => look(config, async (services) => (await services.pitr.walStatus(actor, 'bulk')).durableLsn ?? undefined),
      120_000,
      1_000,
    );

    // A verification restoring into its sandbox and a second backup dumping, at the same moment.
    await look(config, (services) => services.verifications.request(actor, 'bulk', { backupId: earlier!.id }));
    await look(config, (services) => services.backups.start(actor, 'bulk'));
    await Promise.all([
      dumpIsCopying(bench.source),
      waitFor('a sandbox server', async () => ((await entries(sandboxes())).length > 0 ? true : undefined), 60_000, 50),
    ]);
    const worker = await childOf(first.pid, /worker\/main\.ts$/);
    assert.ok(worker, 'the worker runs under the first start');
    process.kill(-first.pid, 'SIGKILL');
    await first.exited;

    // WAL written while Hindsight is down, in a database of its own (bulk's tables stay as backed up).
    await onSource(bench.source.target('postgres'), 'create table while_down as select 1 as n');
    const [{ lsn }] = await onSource<{ lsn: string }>(
      bench.source.target('postgres'),
      'select pg_switch_wal(), pg_current_wal_lsn()::text as lsn',
    );

    const next = new StartProcess(bench.env);
    starts.push(next);
    await next.line(/console on http/, 180_000);
    await checkResumed(next, earlier!.id, lsn, worker);
  });

  async function checkResumed(next: StartProcess, earlier: string, lsn: string, oldWorker: number) {
    const { config } = bench;
    const done = await waitFor(
      'the second backup of bulk to end',
      async () => {
        const rows = await backupsOf('bulk').catch(() => undefined);
        return rows && rows.length === 2 && rows.every((r) => r.status !== 'running') ? rows : undefined;
      },
      240_000,
      1_000,
    );
    assert.deepEqual(
      done.map((b) => b.status),
      ['complete', 'complete'],
      'two backup rows, both complete',
    );
    const ids = done.map((b) => b.id).sort();
    assert.deepEqual(
      (await readdir(path.join(config.backupsDir, 'bulk'))).sort(),
      ids.flatMap((id) => [`${id}.dump.hsb`, `${id}.json`, `${id}.roles.hsb`]).sort(),
      'one object, manifest and roles file per backup, and no partial',
    );

    const verification = await waitFor(
      'the verification to end',
      () =>
        look(config, async (services) => {
          const [v] = (await services.verifications.list(actor, 'bulk')).filter((x) => x.backupId === earlier);
          return v && !['pending', 'running'].includes(v.status) ? v : undefined;
        }).catch(() => undefined),
      240_000,
      1_000,
    );
    assert.equal(verification.status, 'successful', verification.reason ?? '');

    const slot = await waitFor(
      'the archive to reach the WAL written while Hindsight was down',
      () =>
        look(config, async (services) => {
          const status = await services.pitr.walStatus(actor, 'bulk');
          if (!status.durableLsn) return undefined;
          const [{ reached }] = await onSource<{ reached: boolean }>(
            bench.source.target('postgres'),
            `select '${status.durableLsn}'::pg_lsn >= '${lsn}'::pg_lsn as reached`,
          );
          return reached ? status.slot : undefined;
        }).catch(() => undefined),
      180_000,
      1_000,
    );
    await checkNothingLeft(next, oldWorker, slot);

    const newest = ids.find((id) => id !== earlier)!;
    await look(config, async (services) => {
      const restore = await services.restores.start(actor, {
        database: 'bulk',
        backupId: newest,
        to: { database: 'bulk_restored' },
      });
      await restore.result();
    });
    assert.deepEqual(await tableHashes({ ...bulk, database: 'bulk_restored' }), await tableHashes(bulk));

    next.interrupt();
    assert.equal((await next.exited).code, 0, next.output.slice(-3000));
  }

  async function checkNothingLeft(next: StartProcess, oldWorker: number, slot: string | null) {
    const { config } = bench;
    assert.equal(await processAlive(oldWorker), false, 'the worker of the killed start is gone');
    await waitFor(
      'no sandbox server or directory left',
      async () => {
        const servers = [...(await processCommandLines()).values()].filter((c) => c.includes(sandboxes()));
        return servers.length === 0 && (await entries(sandboxes())).length === 0 ? true : undefined;
      },
      60_000,
      500,
    );
    const spool = path.join(path.dirname(sandboxes()), 'hindsight-wal-spool', 'bulk');
    await waitFor(
      'no complete segment waiting in the spool',
      async () => ((await entries(spool)).some((n) => /^[0-9A-F]{24}$/.test(n)) ? undefined : true),
      60_000,
      500,
    );
    const slots = await onSource<{ slot_name: string }>(
      bench.source.target('postgres'),
      'select slot_name from pg_replication_slots order by 1',
    );
    assert.deepEqual(
      slots.map((s) => s.slot_name),
      [slot],
      'only the replication slot of the archive',
    );
    const disagreements: string[] = [];
    await look(config, (services, runtime) =>
      runDeepChecks(runtime, services.ctx.temporal, (name, status, detail) => {
        if (status === 'fail') disagreements.push(`${name}: ${detail}`);
      }),
    );
    assert.deepEqual(disagreements, [], 'doctor --deep finds the catalog, Temporal and storage in agreement');
    assert.equal(next.linesMatching(/giving up/).length, 0, 'no child was given up');
  }
});
