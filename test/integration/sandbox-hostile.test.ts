/**
 * A dump is hostile input. A role that may only CREATE in one schema of the source plants code that
 * runs when the dump is loaded (a CHECK constraint, an index expression, a generated column, a
 * materialized view refreshed at load) and a column default, each calling a function that tries to
 * run a program, export a large object, read a host file or write one. Hindsight's verification
 * must load that backup without any of it running on the host; a control load of the very same
 * archive as a superuser, the old way, shows that the vehicles are real.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { ArchiveDecoder } from '../../lib/backup/compress-decoder.ts';
import { DecryptStream } from '../../lib/crypto/chunked-gcm.ts';
import { createProcessSandboxDriver } from '../../lib/sandbox/process.ts';
import { connect, libpqEnv, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import type { VerificationSummary } from '../../lib/verify/report.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';

/** The vehicles, each calling `app.payload_<n>()`; `loud` payloads raise, quiet ones swallow their own failure. */
function plantSql(markers: string, hostSecret: string, loud: boolean): string {
  const guard = (body: string) => (loud ? body : `begin ${body} exception when others then null; end;`);
  const payload = (name: string, body: string) => `
    create function app.${name}(x int) returns int language plpgsql volatile as $f$
    declare lo oid;
    begin
      -- On the source the attacker's own inserts evaluate this too: only another role sets it off.
      if current_user <> 'attacker' then ${guard(body)} end if;
      return x;
    end $f$;`;
  // Index expressions and generated columns take only immutable functions, which may still call volatile ones.
  const immutable = (name: string) => `
    create function app.immutable_${name}(x int) returns int language plpgsql immutable as $f$ begin return app.${name}(x); end $f$;`;
  const m = (file: string) => path.join(markers, file).replace(/'/g, "''");
  return `
    ${payload('payload_program', `execute format('copy (select 1) to program %L', 'cat >/dev/null; touch ${m('check-program')}');`)}
    ${payload('payload_lo_export', `lo := lo_from_bytea(0, 'exported'); perform lo_export(lo, '${m('index-lo-export')}');`)}
    ${payload(
      'payload_read_file',
      `perform set_config('app.secret', pg_read_file('${hostSecret}'), false);
      execute format('copy (select current_setting(%L)) to %L', 'app.secret', '${m('generated-read-file')}');`,
    )}
    ${payload('payload_copy_to', `execute format('copy (select 1) to %L', '${m('default-copy-to')}');`)}
    ${payload('payload_matview', `execute format('copy (select 1) to program %L', 'cat >/dev/null; touch ${m('matview-program')}');`)}
    ${immutable('payload_lo_export')}
    ${immutable('payload_read_file')}
    create table app.t_check (id int primary key, v int check (app.payload_program(v) = v));
    create table app.t_index (id int primary key, v int);
    create table app.t_generated (id int primary key, v int, g int generated always as (app.immutable_payload_read_file(v)) stored);
    create table app.t_default (id int primary key, v int default app.payload_copy_to(1));
    insert into app.t_check select g, g from generate_series(1, 50) g;
    insert into app.t_index select g, g from generate_series(1, 60) g;
    create index t_index_expr on app.t_index ((app.immutable_payload_lo_export(v)));
    insert into app.t_generated (id, v) select g, g from generate_series(1, 70) g;
    insert into app.t_default (id) select g from generate_series(1, 80) g;
    create materialized view app.mv as select app.payload_matview(g) as n from generate_series(1, 3) g;`;
}

async function sourceWithAttacker(
  platform: Platform,
  name: string,
  markers: string,
  hostSecret: string,
  loud: boolean,
): Promise<PgTarget> {
  const source = await createDatabase(platform.cluster, name);
  const dba = await connect(name, source);
  try {
    // The attacker may create in one schema, nothing more. The DBA adds an extension and an event trigger (superuser-only objects).
    await dba.query(`do $$ begin if not exists (select 1 from pg_roles where rolname = 'attacker') then create role attacker login password 'attacker' nosuperuser; end if; end $$;
      create schema app; grant usage, create on schema app to attacker;
      create extension hstore;
      create function public.note_ddl() returns event_trigger language plpgsql as $$ begin null; end $$;
      create event trigger note_ddl on ddl_command_end execute function public.note_ddl();
      create table public.plain (id int primary key, h hstore);
      insert into public.plain select g, 'a=>1' from generate_series(1, 40) g;`);
  } finally {
    await dba.end();
  }
  const attacker = await connect(name, { ...source, user: 'attacker', password: 'attacker' });
  try {
    await attacker.query(plantSql(markers, hostSecret, loud));
  } finally {
    await attacker.end();
  }
  return source;
}

/** The old way: pg_restore as a superuser, in one transaction. Used only as the control. */
async function restoreAsSuperuser(platform: Platform, objectFile: string, database: string): Promise<void> {
  const target = await createDatabase(platform.cluster, database);
  const child = spawn(
    'pg_restore',
    ['--dbname', database, '--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction'],
    { env: { ...process.env, ...libpqEnv(target) }, stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('close', resolve));
  await pipeline(
    createReadStream(objectFile),
    new DecryptStream(platform.runtime.key),
    new ArchiveDecoder({ what: objectFile }),
    child.stdin as Writable,
  );
  assert.equal(await exit, 0, `the control restore as superuser succeeds: ${stderr}`);
}

describe('a hostile dump in the verification sandbox', () => {
  let platform: Platform;
  let markers: string;
  let hostSecret: string;
  const backups = new Map<string, string>();

  before(async () => {
    platform = await startPlatform();
    markers = path.join(platform.dir, 'markers');
    // Anyone may write here, and the host secret is world-readable: if nothing appears, the load never ran the code.
    await mkdir(markers);
    await chmod(markers, 0o1777);
    hostSecret = path.join(platform.dir, 'host-secret.txt');
    await writeFile(hostSecret, 'a secret of the host\n', { mode: 0o644 });
    await platform.startWorker();
    for (const [name, loud] of [
      ['quiet', false],
      ['loud', true],
    ] as const) {
      const source = await sourceWithAttacker(platform, name, markers, hostSecret, loud);
      await platform.ops.addDatabase({ name, url: targetUrl(source), verifyAfterBackup: false });
    }
    for (const name of ['quiet', 'loud'])
      backups.set(name, (await (await platform.ops.startBackup(name)).result()).backupId);
  });

  after(async () => {
    await platform?.stop();
  });

  const verify = async (name: string): Promise<VerificationSummary> =>
    (await platform.ops.requestVerification(name, { backupId: backups.get(name)! })).finished(180_000);
  const objectFile = (name: string) => path.join(platform.backupsDir, name, `${backups.get(name)!}.dump.hsb`);

  it('loads code that hides its failures without running it: verified, with superuser-only objects skipped by name', async () => {
    const v = await verify('quiet');
    assert.deepEqual(await readdir(markers), [], 'no vehicle left a file');
    assert.equal(v.status, 'successful', v.reason ?? '');
    const load = v.report!.load!;
    assert.equal(load.role, 'hindsight_restore');
    assert.deepEqual(load.extensions, ['hstore'], 'the extension was made by the sandbox from its own files');
    assert.deepEqual(
      load.skipped.map((s) => [s.type, s.name]),
      [['EVENT TRIGGER', 'note_ddl']],
    );
    assert.match(load.skipped[0]!.reason, /need a superuser/);
    assert.deepEqual({ refused: load.refused, failed: load.failed }, { refused: [], failed: [] });
    assert.equal(v.report!.sandbox?.confinement, process.getuid?.() === 0 ? 'bwrap' : v.report!.sandbox?.confinement);
    const counts = Object.fromEntries(
      v.report!.comparisons.map((c) => [`${c.schema}.${c.table}`, [c.expected, c.restored]]),
    );
    assert.deepEqual(counts, {
      'app.t_check': [50, 50],
      'app.t_default': [80, 80],
      'app.t_generated': [70, 70],
      'app.t_index': [60, 60],
      'public.plain': [40, 40],
    });
  });

  it('names each table whose data a role without privileges cannot load, and the refused objects, running none of it', async () => {
    const v = await verify('loud');
    assert.deepEqual(await readdir(markers), [], 'no vehicle left a file');
    assert.equal(v.status, 'failed');
    const load = v.report!.load!;
    const failed = Object.fromEntries(load.failed.map((f) => [`${f.type} ${f.name}`, f.reason]));
    assert.deepEqual(Object.keys(failed).sort(), ['TABLE DATA app.t_check', 'TABLE DATA app.t_generated']);
    assert.match(failed['TABLE DATA app.t_check']!, /COPY to or from an external program/);
    assert.match(failed['TABLE DATA app.t_generated']!, /permission denied for function pg_read_file/);
    const refused = Object.fromEntries(load.refused.map((f) => [`${f.type} ${f.name}`, f.reason]));
    assert.match(refused['INDEX app.t_index_expr'] ?? '', /permission denied for function lo_export/);
    assert.match(refused['MATERIALIZED VIEW DATA app.mv'] ?? '', /COPY to or from an external program/);
    assert.match(
      v.reason ?? '',
      /^restore: 2 entries did not load as hindsight_restore, a role without privileges: TABLE DATA app\.t_(check|generated)/,
    );
    const counts = Object.fromEntries(
      v.report!.comparisons.map((c) => [`${c.schema}.${c.table}`, [c.expected, c.restored, c.ok]]),
    );
    assert.deepEqual(counts['app.t_check'], [50, 0, false]);
    assert.deepEqual(counts['app.t_index'], [60, 60, true], 'its data loaded; only the index was refused');
  });

  it('control: the same archives loaded as a superuser set the vehicles off on this host', async () => {
    // Every vehicle a load evaluates; the column default is not among them.
    const fired = ['check-program', 'generated-read-file', 'index-lo-export', 'matview-program'];
    for (const archive of ['quiet', 'loud'] as const) {
      for (const file of await readdir(markers)) await rm(path.join(markers, file));
      await restoreAsSuperuser(platform, objectFile(archive), `control_${archive}`);
      assert.deepEqual((await readdir(markers)).sort(), fired, `the ${archive} archive`);
      assert.match(await readFile(path.join(markers, 'generated-read-file'), 'utf8'), /^a secret of the host/);
    }
    // A column default is not evaluated by a load (COPY names every column): it fires on the next insert.
    const control = await connect('control', platform.cluster.target('control_loud'));
    try {
      await control.query(`insert into app.t_default (id) values (1000)`);
    } finally {
      await control.end();
    }
    assert.ok(
      (await readdir(markers)).includes('default-copy-to'),
      'the default is a real vehicle once a superuser inserts a row',
    );
  });

  it("even the sandbox superuser cannot read the secret key, the catalog or the worker's environment, with or without bubblewrap", async () => {
    const keyFile = platform.config.secretKeyFile;
    const key = (await readFile(keyFile, 'utf8')).trim();
    assert.match(key, /^[0-9a-f]{64}$/, 'the worker made its secret key the usual way');
    const catalogPassword = `${platform.cluster.dataDir}.password`;
    await stat(catalogPassword);
    const modes = process.getuid?.() === 0 ? ['bwrap', 'os-user'] : [];
    if (modes.length === 0)
      console.log(
        "# not root: the sandbox runs as the worker's own user, which can read its own key; nothing to prove here",
      );
    for (const mode of modes) {
      if (mode === 'os-user') process.env.HINDSIGHT_SANDBOX_BWRAP = 'off';
      const sandbox = await createProcessSandboxDriver({ root: platform.config.sandboxRoot }).create({
        major: 15,
        label: `hostile superuser, ${mode}`,
      });
      try {
        assert.equal(sandbox.confinement, mode);
        const admin = await connect('sandbox', sandbox.admin);
        try {
          const stolen = path.join(sandbox.dataDir!, 'x');
          await assert.rejects(
            admin.query(`copy (select 1) to program 'cat ${keyFile} > ${stolen}'`),
            /program .* failed/,
            `${mode}: cat of the key fails`,
          );
          assert.ok(
            !(await readFile(stolen, 'utf8').catch(() => '')).includes(key),
            `${mode}: the key did not reach the sandbox`,
          );
          const unreadable = [
            keyFile,
            `/proc/${process.pid}/environ`,
            catalogPassword,
            path.join(platform.cluster.dataDir, 'postgresql.auto.conf'),
          ];
          for (const file of unreadable) {
            await assert.rejects(
              admin.query(`select pg_read_file($1)`, [file]),
              /could not open file|No such file|Permission denied/,
              `${mode}: ${file}`,
            );
          }
          await assert.rejects(
            admin.query(`select pg_ls_dir($1)`, [platform.cluster.dataDir]),
            /could not open directory|No such file|Permission denied/,
          );
        } finally {
          await admin.end();
        }
      } finally {
        await sandbox.destroy();
        delete process.env.HINDSIGHT_SANDBOX_BWRAP;
      }
    }
  });
});
