import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { toolFor } from '../../lib/pg/tools.ts';
import { streamDumpToStorage } from '../../lib/backup/dump.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { backupProgressQuery } from '../../temporal/contracts/backup.ts';
import { restoreProgressQuery } from '../../temporal/contracts/restore.ts';
import { databaseAttribute } from '../../temporal/search-attributes.ts';
import { createConsoleServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer } from '../../web/server.ts';
import { postAction } from '../support/console-forms.ts';
import { createFilledDatabase, startTestCluster, tableFingerprint, type Platform } from '../support/platform.ts';
import { WRITER, ownerRoles, ownersSchema, ownership, roleFacts } from '../support/owners-fixture.ts';
import { freePort } from '../support/ports.ts';
import { assertSameTables, sequenceValue, startSeededPlatform } from '../support/seeded-platform.ts';
import { firstPlaintextBytes, restoreInsideCompressed } from '../support/inside-compressed.ts';

const run = promisify(execFile);
/** A form action's JSON answer; `data` is devalue text. */
type Answer = { type: string; data: string };
const cli = path.resolve('bin/hindsight.mjs');

/** Several tables and types, a 250k-row table and a sequence: what a real application holds. */
const sourceSchema = `
  create table accounts (id bigserial primary key, email text not null, profile jsonb, avatar bytea, tags text[], balance numeric(20,6), created_at timestamptz not null);
  insert into accounts (email, profile, avatar, tags, balance, created_at)
    select 'user' || g || '@example.org', jsonb_build_object('n', g, 'nested', jsonb_build_object('ok', g % 2 = 0), 'list', jsonb_build_array(g, 'x')),
           decode(md5(g::text), 'hex'), array['a' || g % 5, 'b' || g % 7], (g * 1.000001)::numeric(20,6), timestamptz '2024-01-01' + g * interval '1 minute'
    from generate_series(1, 5000) g;
  create table events (id bigint primary key, account_id bigint not null, kind text not null, payload text, at timestamptz not null);
  insert into events select g, 1 + g % 5000, (array['login','view','buy'])[1 + g % 3], md5(g::text) || repeat(chr(65 + g % 26), g % 40), timestamptz '2025-01-01' + g * interval '1 second'
    from generate_series(1, 250000) g;
  create schema billing;
  create table billing.invoices (no integer primary key, amounts numeric[] not null, note text);
  insert into billing.invoices select g, array[g * 1.5, g * 2.25]::numeric[], case when g % 3 = 0 then null else 'note ' || g end from generate_series(1, 1200) g;
  create table empty_table (id int);
  create sequence billing.invoice_no start 100;
  select setval('billing.invoice_no', 4242);
`;

const tables: Array<[string, string]> = [
  ['accounts', 'id'],
  ['events', 'id'],
  ['billing.invoices', 'no'],
  ['empty_table', 'id'],
];

describe('backup and restore of a real database through Temporal', () => {
  let platform: Platform;
  let source: PgTarget;
  let backupId: string;

  before(async () => {
    ({ platform, source } = await startSeededPlatform('shop', sourceSchema));
    await platform.ops.addDatabase({
      name: 'shop',
      url: targetUrl(source),
      storages: 'local',
      schedule: '30 2 * * *',
      timezone: 'Europe/Paris',
    });
  });

  after(async () => {
    await platform?.stop();
  });

  it('backs up: an encrypted object and a manifest with exact row counts, no partial files', async () => {
    const started = await platform.ops.startBackup('shop');
    const outcome = await started.result();
    backupId = outcome.backupId;
    assert.equal(outcome.status, 'complete');
    assert.equal(outcome.backupId, started.backupId);
    assert.equal(outcome.rows, 5000 + 250000 + 1200);

    const handle = platform.client.workflow.getHandle(started.workflowId);
    const description = await handle.describe();
    assert.deepEqual(
      description.typedSearchAttributes.get(databaseAttribute),
      'shop',
      'runs are filterable by database in the Temporal UI',
    );
    const progress = await handle.query(backupProgressQuery);
    assert.equal(progress.stage, 'complete');
    assert.equal(progress.storedBytes, outcome.sizeBytes);

    const record = await platform.runtime.catalog.getBackup(backupId);
    assert.equal(record.status, 'complete');
    assert.deepEqual(
      record.rowCounts?.map((t) => `${t.schema}.${t.table}=${t.rows}`),
      ['billing.invoices=1200', 'public.accounts=5000', 'public.empty_table=0', 'public.events=250000'],
    );

    const files = await readdir(path.join(platform.backupsDir, 'shop'));
    assert.deepEqual(files.sort(), [`${backupId}.dump.hsb`, `${backupId}.json`, `${backupId}.roles.hsb`]);
    const object = await readFile(path.join(platform.backupsDir, 'shop', `${backupId}.dump.hsb`));
    assert.equal(object.subarray(0, 4).toString(), 'HSBK');
    assert.equal(object.length, outcome.sizeBytes);
    assert.ok(!object.includes(Buffer.from('user42@example.org')), 'the object must not hold plaintext rows');
    const manifest = JSON.parse(await readFile(path.join(platform.backupsDir, 'shop', `${backupId}.json`), 'utf8'));
    assert.equal(manifest.object.sizeBytes, object.length);
    assert.equal(manifest.encryption.keyId, platform.runtime.key.id);
    // pg_dump writes its archive uncompressed into zstd (lib/backup/compress.ts), whatever its major.
    assert.deepEqual(manifest.tool.compression, { algorithm: 'zstd', level: 5, where: 'outside' });
    const plaintext = await firstPlaintextBytes(object, platform.runtime.key);
    assert.equal(plaintext.subarray(0, 4).toString('hex'), '28b52ffd', 'the decrypted object is one zstd stream');
  });

  it('the schedule exists in Temporal with overlap SKIP and the database timezone', async () => {
    const description = await platform.client.schedule.getHandle('backup/shop').describe();
    assert.deepEqual(description.spec.timezone, 'Europe/Paris');
    assert.equal(description.policies.overlap, 'SKIP');
    assert.equal(description.action.type, 'startWorkflow');
    assert.ok(description.info.nextActionTimes.length > 0);
  });

  it('restores into a new database, and every table and the sequence match the source', async () => {
    const restore = await platform.ops.startRestore({ database: 'shop', backupId, to: { database: 'shop_restored' } });
    const outcome = await restore.result();
    assert.equal(outcome.tablesChecked, 4);
    assert.equal(outcome.rowsChecked, 256200);
    const restored = { ...source, database: 'shop_restored' };
    await assertSameTables(restored, source, tables);
    assert.equal(await sequenceValue(restored, 'billing.invoice_no'), '4242');
    const record = await platform.runtime.catalog.getBackup(backupId);
    assert.equal(record.lastRestore?.status, 'verified');
  });

  it('the console lists the database and its verified backup, and starts a backup from its form', async () => {
    const services = createConsoleServices(platform.services);
    const server = await startWebServer({ services, host: '127.0.0.1', port: await freePort(), log: () => undefined });
    try {
      // The verification that followed the backup restores it into a throwaway server; let it finish.
      for (let i = 0; i < 600; i++) {
        const v = (await platform.runtime.catalog.verifications.newestFor([backupId])).get(backupId);
        if (v && !['pending', 'running'].includes(v.status)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // Without a session the console sends people to owner creation; with one it shows the overview.
      const anonymous = await fetch(`${server.url}/`, { redirect: 'manual' });
      assert.equal(anonymous.status, 303);
      assert.equal(anonymous.headers.get('location'), '/setup');
      // The first-run page creates the owner and logs them in, given the token printed at start; after that it is gone.
      const setupToken = (await services.auth.issueSetupToken())!;
      const setup = await fetch(`${server.url}/setup`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams({
          email: 'owner@example.org',
          displayName: 'Owner',
          password: 'correct horse battery',
          confirm: 'correct horse battery',
          setupToken,
        }),
        headers: { origin: server.url, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(setup.status, 303);
      assert.equal(setup.headers.get('location'), '/');
      const cookie = (setup.headers.get('set-cookie') ?? '').split(';')[0]!;
      assert.match(cookie, /^hindsight_session=/);
      const again = await fetch(`${server.url}/setup`, { redirect: 'manual' });
      assert.equal(again.headers.get('location'), '/login', 'owner creation exists only until the first account does');
      const login = await fetch(`${server.url}/api/v1/session`, {
        method: 'POST',
        body: JSON.stringify({ email: 'owner@example.org', password: 'correct horse battery' }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(login.status, 200);
      const page = await (await fetch(`${server.url}/`, { headers: { cookie } })).text();
      assert.match(page, /shop/);
      assert.match(page, new RegExp(backupId.slice(0, 12)));
      assert.match(page, /4 tables · 256,200 rows match exactly/, 'the verification report is shown beside the backup');
      assert.ok(!page.includes(platform.cluster.password), 'no secret reaches the browser');
      const overview = (await (await fetch(`${server.url}/api/v1/overview`, { headers: { cookie } })).json()) as {
        backups: Array<{ id: string; restore: { status: string } | null }>;
      };
      assert.equal(overview.backups.find((b) => b.id === backupId)?.restore?.status, 'verified');

      const body = await postAction<Answer>(server.url, '/?/backup', cookie, { database: 'shop' });
      assert.equal(body.type, 'success', JSON.stringify(body));
      const workflowId = /backup\/shop\/[^"]+/.exec(body.data)?.[0];
      assert.ok(workflowId, `the action answers with the workflow it started: ${body.data}`);
      const outcome = await platform.client.workflow.getHandle(workflowId).result();
      assert.equal(outcome.status, 'complete');
      assert.equal((await platform.runtime.catalog.getBackup(outcome.backupId)).trigger, 'manual');

      const verifyBody = await postAction<Answer>(server.url, '/?/verify', cookie, { database: 'shop' });
      assert.equal(verifyBody.type, 'success', JSON.stringify(verifyBody));
      const verificationId = /v-[0-9a-z-]+/.exec(verifyBody.data)?.[0];
      assert.ok(verificationId, `the action answers with the verification it queued: ${verifyBody.data}`);
      const queued = await platform.runtime.catalog.verifications.get(verificationId);
      assert.equal(queued.trigger, 'manual');
      assert.equal(queued.backupId, outcome.backupId, 'the newest backup is the one verified');
    } finally {
      await server.close();
    }
  });

  it('a backup whose manifest cannot be written leaves no object behind that looks complete', async () => {
    const local = createLocalStorage({ name: 'flaky', root: path.join(platform.dir, 'flaky') });
    const flaky: StorageDriver = {
      ...local,
      openWrite: async (key) => {
        if (key.endsWith('.json')) throw new HindsightError('no_space', 'storage "flaky": quota exceeded');
        return local.openWrite(key);
      },
    };
    await assert.rejects(
      streamDumpToStorage({
        databaseName: 'shop',
        backupId: '20261123T000000Z-aaaaaa',
        target: source,
        destinations: [{ name: 'flaky', driver: flaky }],
        key: platform.runtime.key,
      }),
      /quota exceeded/,
    );
    assert.deepEqual(await local.list(''), [], 'the committed object is removed when its manifest fails');
  });

  it('refuses to restore into a database that already holds tables', async () => {
    const restore = await platform.ops.startRestore({ database: 'shop', backupId, to: { database: 'shop_restored' } });
    await assert.rejects(restore.result(), (error: Error) => {
      assert.match(
        String((error.cause as Error)?.message),
        /already holds 4 table\(s\): restore into a new or empty database/,
      );
      return true;
    });
  });

  it('the CLI lists backups, restores to a URL, and decrypts a backup offline for pg_restore', async () => {
    const env = { ...process.env, ...platform.configEnv };
    const { stdout } = await run(process.execPath, [cli, 'backups', 'shop', '--json'], { env });
    const listed = JSON.parse(stdout) as Array<{ id: string; status: string; rowCounts: unknown[] }>;
    assert.equal(listed.length, 2, 'the first backup and the one started from the console');
    assert.equal(listed.find((b) => b.id === backupId)?.status, 'complete');
    assert.equal(listed.find((b) => b.id === backupId)?.rowCounts.length, 4);

    const url = targetUrl({ ...source, database: 'shop_from_cli' });
    const restored = await run(
      process.execPath,
      [cli, 'restore', 'shop', '--backup', backupId, '--to', url, '--wait', '--json'],
      { env },
    );
    assert.equal(JSON.parse(restored.stdout).rowsChecked, 256200);
    assert.deepEqual(
      await tableFingerprint({ ...source, database: 'shop_from_cli' }, 'events', 'id'),
      await tableFingerprint(source, 'events', 'id'),
    );

    await run(process.execPath, [cli, 'db', 'schedule', 'shop', '15 4 * * 1', '--timezone', 'America/New_York'], {
      env,
    });
    const changed = await platform.client.schedule.getHandle('backup/shop').describe();
    assert.equal(changed.spec.timezone, 'America/New_York');
    assert.equal((await platform.runtime.catalog.getDatabase('shop')).schedule, '15 4 * * 1');
    await run(process.execPath, [cli, 'db', 'schedule', 'shop', 'off'], { env });
    await assert.rejects(platform.client.schedule.getHandle('backup/shop').describe(), /not found/i);
    assert.equal((await platform.runtime.catalog.getDatabase('shop')).schedule, null);
    const badCron = await run(process.execPath, [cli, 'db', 'schedule', 'shop', 'every day'], { env }).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    assert.match(badCron, /hindsight: schedule: 'every day' has 2 fields: use five fields/);

    const out = path.join(platform.dir, 'decrypted.dump');
    await run(
      process.execPath,
      [
        cli,
        'decrypt',
        path.join(platform.backupsDir, 'shop', `${backupId}.dump.hsb`),
        '--key',
        platform.config.secretKeyFile,
        '-o',
        out,
      ],
      { env },
    );
    const pgRestore = await toolFor('pg_restore');
    const { stdout: toc } = await run(pgRestore.path, ['--list', out]);
    assert.match(toc, /TABLE DATA public events/);
    assert.match(toc, /SEQUENCE SET billing invoice_no/);
  });

  it('fails a restore loudly when restored row counts differ from the manifest', async () => {
    const manifestFile = path.join(platform.backupsDir, 'shop', `${backupId}.json`);
    const original = await readFile(manifestFile, 'utf8');
    const manifest = JSON.parse(original);
    manifest.tables.find((t: { table: string }) => t.table === 'accounts').rows = 5001;
    await writeFile(manifestFile, JSON.stringify(manifest));
    try {
      const restore = await platform.ops.startRestore({
        database: 'shop',
        backupId,
        to: { database: 'shop_mismatch' },
      });
      await assert.rejects(restore.result(), (error: Error) => {
        assert.match(
          String((error.cause as Error)?.message),
          /differs from backup .* in 1 table\(s\): public\.accounts: expected 5001, restored 5000/,
        );
        return true;
      });
    } finally {
      await writeFile(manifestFile, original);
    }
  });

  it('refuses a backup whose object was altered, and leaves the target empty', async () => {
    const objectFile = path.join(platform.backupsDir, 'shop', `${backupId}.dump.hsb`);
    const original = await readFile(objectFile);
    const damaged = Buffer.from(original);
    damaged[Math.floor(damaged.length / 2)]! ^= 0x04;
    await writeFile(objectFile, damaged);
    try {
      const restore = await platform.ops.startRestore({ database: 'shop', backupId, to: { database: 'shop_damaged' } });
      await assert.rejects(restore.result(), (error: Error) => {
        assert.match(String((error.cause as Error)?.message), /chunk \d+ failed authentication/);
        return true;
      });
      const client = await connect('damaged', { ...source, database: 'shop_damaged' });
      const { rows } = await client.query(
        "select count(*)::int as n from pg_tables where schemaname not in ('pg_catalog', 'information_schema')",
      );
      await client.end();
      assert.equal(rows[0].n, 0, 'a failed restore must leave no tables behind');
    } finally {
      await writeFile(objectFile, original);
    }
  });

  it('restores owners, grants and the roles they need --with-owners into a server that lacks them', () =>
    restoreWithOwners(platform));

  it('an archive written before compression moved out of pg_dump is adopted and restores', () =>
    restoreInsideCompressed(platform, source, tables, 256200));
});

/**
 * A database whose tables two roles own, with grants, a membership and a setting, restored into a
 * second server that lacks those roles: with owners, and then without.
 */
async function restoreWithOwners(platform: Platform): Promise<void> {
  const crm = await createFilledDatabase(platform.cluster, 'crm', ownersSchema);
  await platform.ops.addDatabase({ name: 'crm', url: targetUrl(crm), verifyAfterBackup: false });
  const { backupId: crmBackup } = await (await platform.ops.startBackup('crm')).result();
  const other = await startTestCluster(platform.dir, { name: 'owners-target' });
  try {
    const copy = other.target('crm_copy');
    const restore = (to: PgTarget, withOwners: boolean) =>
      platform.ops.startRestore({ database: 'crm', backupId: crmBackup, to: { url: targetUrl(to) }, withOwners });
    const started = await restore(copy, true);
    const outcome = await started.result();
    const progress = await platform.client.workflow.getHandle(started.workflowId).query(restoreProgressQuery);
    assert.deepEqual(progress.ownership, outcome.ownership, 'the progress query (GET /restores/{id}) reports it too');
    assert.deepEqual(await ownership(copy), await ownership(crm), 'same owners and ACLs, by role name');
    assert.equal(outcome.ownership?.mode, 'with-owners');
    assert.deepEqual([...outcome.ownership!.created].sort(), ownerRoles);
    assert.ok(outcome.ownership!.skipped.some((s) => s.what === 'SUPERUSER of role "crm_owner"'));
    const facts = new Map((await roleFacts(copy)).map((r) => [r.name, r]));
    assert.equal(facts.get('crm_owner')?.superuser, false, 'SUPERUSER needs --with-privileged-roles');
    assert.deepEqual(
      { ...facts.get(WRITER), name: undefined },
      { name: undefined, superuser: false, login: true, connlimit: 5, in_readers: true, settings: null },
    );
    assert.deepEqual(facts.get('crm_readers')?.settings, ['work_mem=8MB']);

    // The default keeps today's behaviour: every object belongs to the restoring role, no grants.
    const plain = other.target('crm_plain');
    assert.equal((await (await restore(plain, false)).result()).ownership?.mode, 'without-owners');
    for (const t of await ownership(plain))
      assert.deepEqual([t.owner, t.acl, t.readers_select], [other.superuser, null, false]);

    // A backup whose manifest names no roles object (taken before there were any) is refused, not half-restored.
    const manifestFile = path.join(platform.backupsDir, 'crm', `${crmBackup}.json`);
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    delete manifest.roles;
    await writeFile(manifestFile, JSON.stringify(manifest));
    await assert.rejects((await restore(other.target('crm_old'), true)).result(), (error: Error) => {
      assert.match(String((error.cause as Error)?.message), /taken before backups kept their roles/);
      return true;
    });
  } finally {
    await other.stop();
  }
}
