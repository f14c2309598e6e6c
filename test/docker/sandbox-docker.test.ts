/**
 * Verification in a Docker sandbox, end to end through the real worker: a backup of a real
 * database is restored into a `hindsight-sandbox-pg` container and its tables hash equal to the
 * source's, row for row and in order; a hostile dump is loaded there without its code running,
 * and the report names what was refused; nothing of the container is left afterwards.
 */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../lib/logger.ts';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import type { Sandbox, SandboxDriver } from '../../lib/sandbox/contract.ts';
import { createDockerSandboxDriver } from '../../lib/sandbox/docker.ts';
import type { VerificationSummary } from '../../lib/verify/report.ts';
import { createHindsightWorker } from '../../worker/create-worker.ts';
import { createDatabase, startPlatform, startTestCluster, type Platform } from '../support/platform.ts';
import { shopHashes, shopSchema, type ShopHashes } from '../support/sandbox-shop.ts';
import type { LocalCluster } from '../../lib/pg/cluster.ts';
import {
  TEST_PREFIX,
  containersLabelled,
  docker,
  ensureSandboxImages,
  listInSandbox,
  volumeExists,
  volumesOf,
} from './support.ts';

const SCRATCH = 'hindsight_verify';
/** The owner of database `hostile` plants an event trigger; a role with CREATE on one schema plants code a load evaluates. */
async function hostileSource(cluster: LocalCluster): Promise<PgTarget> {
  const source = await createDatabase(cluster, 'hostile');
  const dba = await connect('hostile', source);
  try {
    await dba.query(`do $$ begin if not exists (select 1 from pg_roles where rolname = 'attacker') then create role attacker login password 'attacker' nosuperuser; end if; end $$;
      create schema app; grant usage, create on schema app to attacker;
      create function public.note_ddl() returns event_trigger language plpgsql as $$ begin perform pg_sleep(0); end $$;
      create event trigger note_ddl on ddl_command_end execute function public.note_ddl();`);
  } finally {
    await dba.end();
  }
  const attacker = await connect('hostile', { ...source, user: 'attacker', password: 'attacker' });
  try {
    await attacker.query(`
      create function app.payload_program(x int) returns int language plpgsql volatile as $f$
      begin
        if current_user <> 'attacker' then execute format('copy (select 1) to program %L', 'cat >/dev/null; touch /tmp/marker-program'); end if;
        return x;
      end $f$;
      create function app.payload_file(x int) returns int language plpgsql volatile as $f$
      begin
        if current_user <> 'attacker' then execute format('copy (select 1) to %L', '/tmp/marker-file'); end if;
        return x;
      end $f$;
      create function app.immutable_payload_file(x int) returns int language plpgsql immutable as $f$ begin return app.payload_file(x); end $f$;
      create table app.t_check (id int primary key, v int check (app.payload_program(v) = v));
      insert into app.t_check select g, g from generate_series(1, 50) g;
      create table app.t_index (id int primary key, v int);
      insert into app.t_index select g, g from generate_series(1, 60) g;
      create index t_index_expr on app.t_index ((app.immutable_payload_file(v)));`);
  } finally {
    await attacker.end();
  }
  return source;
}

/** What the test saw inside each sandbox just before the worker destroyed it, by database. */
interface Seen {
  container: string;
  volumes: string[];
  socketDir: string;
  hashes?: ShopHashes;
  markersAfterLoad?: string[];
  markersAfterControl?: string[];
}

/** The real docker driver; before each sandbox goes, the test looks inside it as its superuser. */
function observedDriver(root: string, seen: Map<string, Seen>): SandboxDriver {
  const real = createDockerSandboxDriver({ root, namePrefix: `${TEST_PREFIX}-sbx` });
  const look = async (sandbox: Sandbox, database: string): Promise<void> => {
    const [container] = await containersLabelled(`hindsight.sandbox=${sandbox.id}`);
    assert.ok(container, `the sandbox ${sandbox.id} is a container`);
    const entry: Seen = { container, volumes: await volumesOf(container), socketDir: sandbox.admin.host };
    const scratch = { ...sandbox.admin, database: SCRATCH };
    if (database === 'shop' || database === 'old') entry.hashes = await shopHashes(scratch);
    if (database === 'hostile') {
      entry.markersAfterLoad = (await listInSandbox(sandbox.admin, '/tmp')).filter((f) => f.startsWith('marker-'));
      // Control: the same planted code, called by the sandbox's superuser, does run in this container.
      const superuser = await connect('control', scratch);
      try {
        await superuser.query('select app.payload_program(1)');
      } finally {
        await superuser.end();
      }
      entry.markersAfterControl = (await listInSandbox(sandbox.admin, '/tmp')).filter((f) => f.startsWith('marker-'));
    }
    seen.set(database, entry);
  };
  return {
    name: real.name,
    sweepLeftovers: () => real.sweepLeftovers(),
    async create(options) {
      const sandbox = await real.create(options);
      const database = options.label.split(' ')[1]!;
      return {
        ...sandbox,
        destroy: async () => {
          await look(sandbox, database).finally(() => sandbox.destroy());
        },
      };
    },
  };
}

describe('verification in a Docker sandbox, through the real worker', () => {
  let platform: Platform;
  let old: LocalCluster;
  let worker: { shutdown(): void; close(): Promise<void>; done: Promise<void> } | undefined;
  const seen = new Map<string, Seen>();
  const sources = new Map<string, PgTarget>();

  before(async () => {
    await ensureSandboxImages();
    platform = await startPlatform();
    old = await startTestCluster(platform.dir, { major: 13, name: 'pg13' });
    const created = await createHindsightWorker(platform.runtime, createLogger('docker-test-worker'), {
      sandboxes: observedDriver(platform.config.sandboxRoot, seen),
    });
    worker = { shutdown: () => created.shutdown(), close: created.close, done: created.run() };
    for (const [name, cluster] of [
      ['shop', platform.cluster],
      ['old', old],
    ] as const) {
      const source = await createDatabase(cluster, name);
      const client = await connect(name, source);
      await client.query(shopSchema({ items: 3000, orders: 4000 })).finally(() => client.end());
      sources.set(name, source);
    }
    sources.set('hostile', await hostileSource(platform.cluster));
    for (const [name, source] of sources)
      await platform.ops.addDatabase({ name, url: targetUrl(source), verifyAfterBackup: false });
  });

  after(async () => {
    worker?.shutdown();
    await worker?.done.catch(() => undefined);
    await worker?.close().catch(() => undefined);
    await old?.stop('immediate').catch(() => undefined);
    await platform?.stop();
  });

  const backupAndVerify = async (name: string): Promise<VerificationSummary> => {
    const { backupId } = await (await platform.ops.startBackup(name)).result();
    return (await platform.ops.requestVerification(name, { backupId })).finished(300_000);
  };

  async function assertGone(entry: Seen): Promise<void> {
    assert.equal(
      await docker('ps', '-a', '--filter', `name=^${entry.container}$`, '--format', '{{.Names}}'),
      '',
      'the container is gone',
    );
    assert.ok(entry.volumes.length > 0, 'the data directory was a volume of its own');
    for (const volume of entry.volumes) assert.equal(await volumeExists(volume), false, `its volume ${volume} is gone`);
    await assert.rejects(stat(path.dirname(entry.socketDir)), /ENOENT/, 'its socket directory on this host is gone');
  }

  it("restores a backup into a container whose tables hash equal to the source's, then removes it", async () => {
    const v = await backupAndVerify('shop');
    assert.equal(v.status, 'successful', v.reason ?? '');
    assert.equal(v.report!.sandbox?.driver, 'docker');
    assert.equal(v.report!.sandbox?.confinement, 'container');
    assert.match(
      v.report!.sandbox?.detail ?? '',
      /no capabilities, no new privileges, read-only root filesystem, no network/,
    );
    assert.equal(v.report!.load?.role, 'hindsight_restore');
    const entry = seen.get('shop')!;
    assert.deepEqual(entry.hashes, await shopHashes(sources.get('shop')!));
    assert.equal(entry.hashes!.items!.rows, 3000);
    await assertGone(entry);
  });

  it('loads a PostgreSQL 13 source into a server of major 13 or newer, with equal hashes', async () => {
    const v = await backupAndVerify('old');
    assert.equal(v.status, 'successful', v.reason ?? '');
    assert.ok(v.report!.sandbox!.major >= 13, `sandbox major ${v.report!.sandbox!.major}`);
    assert.deepEqual(seen.get('old')!.hashes, await shopHashes(sources.get('old')!));
    await assertGone(seen.get('old')!);
  });

  it('loads a hostile dump without running its code, names what was refused and skipped, and leaves nothing', async () => {
    const v = await backupAndVerify('hostile');
    const entry = seen.get('hostile')!;
    assert.deepEqual(entry.markersAfterLoad, [], 'no planted code ran during the load');
    assert.deepEqual(
      entry.markersAfterControl,
      ['marker-program'],
      'control: the planted code runs when the sandbox superuser calls it',
    );
    assert.equal(v.status, 'failed', 'a table only a superuser could load fails the verification');
    const load = v.report!.load!;
    assert.equal(load.role, 'hindsight_restore');
    assert.deepEqual(
      load.skipped.map((s) => [s.type, s.name]),
      [['EVENT TRIGGER', 'note_ddl']],
    );
    const failed = Object.fromEntries(load.failed.map((f) => [`${f.type} ${f.name}`, f.reason]));
    assert.deepEqual(Object.keys(failed), ['TABLE DATA app.t_check']);
    assert.match(failed['TABLE DATA app.t_check']!, /COPY to or from an external program/);
    const refused = Object.fromEntries(load.refused.map((f) => [`${f.type} ${f.name}`, f.reason]));
    assert.match(refused['INDEX app.t_index_expr'] ?? '', /COPY to a file|pg_write_server_files|permission denied/);
    assert.match(v.reason ?? '', /TABLE DATA app\.t_check/);
    await assertGone(entry);
  });
});
