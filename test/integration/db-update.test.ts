/**
 * Changing a registered database in place: a password rotated on the server and new storages with
 * `hindsight db update`, a wrong password refused with nothing saved, and PATCH /api/v1/databases
 * for one field, refused to a viewer. Earlier backups stay attached and still restore by id, after
 * a rename too. Removed with its backups kept and added again, a database takes them back; a
 * database of another server under the same name takes nothing; removed with --delete-backups, it
 * leaves nothing in storage. Real catalog, PostgreSQL, Temporal and worker.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect, libpqChildEnv, parsePgUrl, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { toolFor } from '../../lib/pg/tools.ts';
import { SECRET_MARK } from '../../services/audit-mask.ts';
import { systemActor } from '../../services/authz.ts';
import { callApi, loginCookie, PASSWORD, type OpenApiDoc } from '../support/api-v1-client.ts';
import { startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import { hindsightResult, type CliResult } from '../support/hindsight-cli.ts';
import { createFilledDatabase, startTestCluster, tableFingerprint, type Platform } from '../support/platform.ts';
import { backupScheduleId } from '../../temporal/contracts/backup.ts';
import { assertSameTables, startSeededPlatform } from '../support/seeded-platform.ts';
import { addAccount } from '../support/accounts.ts';

const runFile = promisify(execFile);

const schema = `
  create table orders (id int primary key, total numeric(10,2), note text);
  insert into orders select g, g * 2.5, 'order ' || g from generate_series(1, 2000) g;
  create table customers (id int primary key, email text);
  insert into customers select g, 'c' || g || '@example.org' from generate_series(1, 300) g;
`;
const tables: Array<[string, string]> = [
  ['orders', 'id'],
  ['customers', 'id'],
];

let platform: Platform;
let source: PgTarget;

/** The source as the role that backups connect as, with `password`. */
const asReader = (password: string) => ({ ...source, user: 'shop_reader', password });

/** Runs SQL on the source as its administrator. */
async function asAdmin(sql: string): Promise<void> {
  const admin = await connect('shop', source);
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** Sets the reader's password on the server, as its administrator does. */
const alterReaderPassword = (password: string) => asAdmin(`alter role shop_reader password '${password}'`);

async function passwordFile(name: string, password: string): Promise<string> {
  const file = path.join(platform.dir, name);
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return file;
}

/** The ordered per-table hashes of `target` now. */
const fingerprints = async (target: PgTarget) =>
  Promise.all(tables.map(([table, order]) => tableFingerprint(target, table, order)));

/** Restores backup `backupId` of `database` into a new database on the source's server; its fingerprints. */
async function restoredFingerprints(database: string, backupId: string, into: string) {
  const restored = { ...source, database: into };
  const restore = await platform.ops.startRestore({ database, backupId, to: { url: targetUrl(restored) } });
  assert.equal((await restore.result()).backupId, backupId);
  return fingerprints(restored);
}

/** The files a local storage holds under `prefix/` (none when the directory is gone). */
const filesUnder = (root: string, prefix: string) => readdir(path.join(root, prefix)).catch(() => [] as string[]);

/** The password and storages the catalog holds for the database now. */
const stored = async () => ({
  password: (await platform.runtime.catalog.databaseTarget('shop')).password,
  storages: (await platform.runtime.catalog.getDatabase('shop')).storageNames,
});

/** The platform, database `shop` backed up as its reader role to `local`, and a second storage: the first backup's id. */
async function startShop(): Promise<string> {
  ({ platform, source } = await startSeededPlatform('shop', schema));
  await asAdmin(`create role shop_reader login password 'first-secret'; grant pg_read_all_data to shop_reader`);
  await platform.ops.saveStorage('second', { type: 'local', path: path.join(platform.dir, 'second') });
  await platform.ops.addDatabase({
    name: 'shop',
    url: targetUrl(asReader('first-secret')),
    storages: 'local',
    verifyAfterBackup: false,
  });
  const first = await (await platform.ops.startBackup('shop')).result();
  assert.equal(first.status, 'complete');
  return first.backupId;
}

// One platform for every suite of the file: they run in order, each going on from where the last left it.
let consoleApp: SignedInConsole;
let earlierBackup: string;
const cli = (args: string[]): Promise<CliResult> => hindsightResult(platform.configEnv, args);
const patch = (cookie: string, body: unknown) => callApi(consoleApp.url, 'PATCH', '/databases/shop', { cookie }, body);

before(async () => {
  earlierBackup = await startShop();
  consoleApp = await startSignedInConsole(platform);
});

after(async () => {
  await consoleApp?.close();
  await platform?.stop();
});

/** The backup taken after the rename, and the source's fingerprints when it was taken. */
let afterRename: { id: string; fingerprints: Awaited<ReturnType<typeof fingerprints>> };
const readerUrl = () => targetUrl(asReader('third-secret'));
const bareReaderUrl = () => targetUrl({ ...source, user: 'shop_reader', password: undefined });

/**
 * A password exported in the environment (PGPASSWORD) is not the database's: neither `db add`'s
 * check nor a libpq tool run as a backup runs it sends it to the server; nothing is saved.
 */
async function assertAmbientPasswordUnused(url: string, password: string): Promise<void> {
  const args = ['db', 'add', 'shop2', '--url', url, '--storage', 'local,second'];
  const ambient = await hindsightResult({ ...platform.configEnv, PGPASSWORD: password }, args);
  assert.equal(ambient.code, 1, ambient.stdout);
  assert.match(
    ambient.stderr,
    /database "shop2".* asks user "shop_reader" for a password and none is saved for this database: give it with --password-file/,
  );
  assert.ok(!(await platform.runtime.catalog.listDatabases()).some((d) => d.name === 'shop2'), 'nothing saved');
  const pgDump = await toolFor('pg_dump');
  const env = libpqChildEnv(parsePgUrl(url), { ...process.env, PGPASSWORD: password });
  const dumped = await runFile(pgDump.path, ['--schema-only', '--no-password'], { env }).then(
    () => 'dumped',
    (e: { stderr: string }) => e.stderr,
  );
  assert.match(dumped, /no password supplied/, 'pg_dump with the environment a backup gives it');
}

describe('db update: a database changed in place keeps its backups', () => {
  it('refuses a password the server does not take, and saves nothing of the change', async () => {
    await alterReaderPassword('second-secret');
    const wrong = await passwordFile('wrong', 'not-the-password');
    const refused = await cli(['db', 'update', 'shop', '--password-file', wrong, '--storage', 'second']);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /database "shop": cannot connect as "shop_reader" .*password authentication failed/);
    assert.match(refused.stderr, /nothing was changed: correct the URL or password, or pass --no-check/);
    assert.doesNotMatch(refused.stderr, /not-the-password/, 'the refusal does not echo the password');
    assert.deepEqual(await stored(), { password: 'first-secret', storages: ['local'] });
  });

  it('takes the new password and storages; the next backup lands there and the earlier one still restores', async () => {
    const right = await passwordFile('right', 'second-secret');
    const updated = await cli(['db', 'update', 'shop', '--password-file', right, '--storage', 'second', '--json']);
    assert.equal(updated.code, 0, updated.stderr);
    assert.deepEqual(JSON.parse(updated.stdout).storageNames, ['second']);
    assert.deepEqual(await stored(), { password: 'second-secret', storages: ['second'] });
    const [audited] = await platform.runtime.catalog.access.listAudit({ action: 'database.update', limit: 1 });
    const [before, after] = [audited?.before, audited?.after] as Array<{ storages: string[]; password: string }>;
    assert.deepEqual([before?.storages, after?.storages], [['local'], ['second']], 'audited with before and after');
    assert.equal(after?.password, SECRET_MARK, 'the audit log masks the password');
    assert.equal(JSON.stringify(audited).includes('second-secret'), false, 'no password in the audit log');

    const next = await (await platform.ops.startBackup('shop')).result();
    assert.equal(next.status, 'complete');
    assert.deepEqual(
      next.copies.map((c) => `${c.storageName}:${c.status}`),
      ['second:complete'],
    );
    await access(path.join(platform.dir, 'second', 'shop', `${next.backupId}.dump.hsb`));

    const listed = (await platform.ops.listBackups('shop')).map((b) => b.id);
    assert.ok(listed.includes(earlierBackup), 'the backup taken before the change is still listed under the database');
    const restored = { ...source, database: 'shop_restored' };
    const restore = await platform.ops.startRestore({
      database: 'shop',
      backupId: earlierBackup,
      to: { url: targetUrl(restored) },
    });
    assert.equal((await restore.result()).backupId, earlierBackup);
    await assertSameTables(restored, source, tables);
  });

  it('PATCH /api/v1/databases/{name} changes one field; a viewer gets 403 and nothing changes', async () => {
    const owner = await loginCookie(consoleApp.url, 'owner@example.org');
    const ownerActor = await consoleApp.services.access.actorForEmail('owner@example.org', 'test');
    const viewer = { email: 'viewer@example.org', password: PASSWORD, workspace: 'default', role: 'viewer' as const };
    await addAccount(consoleApp.services.access, ownerActor, viewer);
    const viewerCookie = await loginCookie(consoleApp.url, viewer.email);
    await alterReaderPassword('third-secret');

    const refused = await patch(viewerCookie, { password: 'third-secret' });
    assert.equal(refused.status, 403, refused.text);
    const doc = (await callApi(consoleApp.url, 'GET', '/openapi.json')).body as unknown as OpenApiDoc;
    const operation = doc.paths['/databases/{name}']?.patch;
    assert.ok(operation?.responses['403'] && operation.requestBody, 'PATCH is in the OpenAPI document');
    assert.equal((await stored()).password, 'second-secret');

    const wrong = await patch(owner, { password: 'nope' });
    assert.equal(wrong.status, 400, wrong.text);
    assert.match(wrong.body.error!.message, /database "shop": cannot connect/);
    assert.equal((await stored()).password, 'second-secret');

    const patched = await patch(owner, { password: 'third-secret' });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(JSON.stringify(patched.body).includes('third-secret'), false, 'the answer carries no password');
    assert.deepEqual(await stored(), { password: 'third-secret', storages: ['second'] });
    const backup = await (await platform.ops.startBackup('shop')).result();
    assert.equal(backup.status, 'complete', 'a backup connects with the patched password');
  });
});

describe('db update --name: a renamed database keeps its backups and moves its schedules', () => {
  it('renames: refused for a taken name or with PITR on; then earlier backups restore, the next lands under the new name', async () => {
    const atFirstBackup = await fingerprints(source);
    await asAdmin(`insert into orders values (5001, 1, 'after the first backups')`);
    await platform.ops.setSchedule('shop', '17 3 * * *');
    await platform.ops.addDatabase({ name: 'taken', url: targetUrl(source), storages: 'local', skipCheck: true });
    const rename = (name: string) => platform.services.databases.update(systemActor, 'shop', { name });
    await assert.rejects(rename('taken'), /database "taken" is already registered: choose another name/);
    await platform.ops.removeDatabase('taken');
    const { pool } = platform.runtime.catalog;
    await pool.query(`update databases set pitr_enabled = true where name = 'shop'`);
    await assert.rejects(rename('shop2'), /PITR on.*hindsight db pitr shop off/);
    await pool.query(`update databases set pitr_enabled = false where name = 'shop'`);

    const renamed = await cli(['db', 'update', 'shop', '--name', 'shop2', '--json']);
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.equal(JSON.parse(renamed.stdout).name, 'shop2');
    assert.equal((await platform.runtime.catalog.databaseTarget('shop2')).password, 'third-secret', 'sealed anew');
    await platform.client.schedule.getHandle(backupScheduleId('shop2')).describe();
    await assert.rejects(platform.client.schedule.getHandle(backupScheduleId('shop')).describe(), /not found/i);
    assert.ok(await platform.runtime.catalog.health.state('shop2'), 'the health state follows the rename');
    assert.equal(await platform.runtime.catalog.health.state('shop'), undefined);

    assert.deepEqual(await restoredFingerprints('shop2', earlierBackup, 'shop_r_renamed'), atFirstBackup);
    // A download reads the object under its recorded key, checked end to end against its old-name identity.
    const download = await platform.services.backupReads.download(systemActor, earlierBackup, { decrypt: true });
    let bytes = 0;
    let head = Buffer.alloc(0);
    for await (const chunk of download.stream) {
      bytes += (chunk as Buffer).length;
      if (head.length < 5) head = Buffer.concat([head, chunk as Buffer]);
    }
    assert.equal(head.subarray(0, 5).toString('latin1'), 'PGDMP', 'the decrypted download is a pg_dump archive');
    // Decompressed as it streams when pg_dump's output was compressed outside it: no size ahead.
    assert.ok(
      download.sizeBytes === null || bytes === download.sizeBytes,
      `${bytes} bytes against ${download.sizeBytes}`,
    );
    const next = await (await platform.ops.startBackup('shop2')).result();
    assert.equal(next.status, 'complete');
    await access(path.join(platform.dir, 'second', 'shop2', `${next.backupId}.dump.hsb`));
    afterRename = { id: next.backupId, fingerprints: await fingerprints(source) };
  });
});

describe('db remove and db add: backups kept in storage are taken back by the same database only', () => {
  it('removed with its backups kept and added again, it takes back those under its name; they restore by id', async () => {
    await asAdmin(`insert into orders values (5002, 2, 'after the renamed backup')`);
    const removed = await cli(['db', 'remove', 'shop2']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(
      removed.stdout,
      /its 4 backups stay in storage local, second; .* 1 under shop2\/ as "hindsight db add shop2"/,
    );
    assert.match(removed.stdout, /kept: neither --keep-backups nor --delete-backups was given/);

    const file = await passwordFile('third', 'third-secret');
    const both = await cli(['db', 'add', 'shop2', '--url', readerUrl(), '--password-file', file]);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--url has a password and --password-file gives another: give the password in one/);
    await assertAmbientPasswordUnused(bareReaderUrl(), 'third-secret');
    const added = await cli([
      'db',
      'add',
      'shop2',
      '--url',
      bareReaderUrl(),
      '--password-file',
      file,
      '--storage',
      'local,second',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal((await platform.runtime.catalog.databaseTarget('shop2')).password, 'third-secret', 'from the file');
    assert.match(added.stdout, /adopted 1 earlier backup found in storage second\n/);
    const listed = await platform.ops.listBackups('shop2');
    assert.deepEqual(
      listed.map((b) => [b.id, b.status, b.trigger, b.copies.map((c) => c.storageName)]),
      [[afterRename.id, 'complete', 'adopted', ['second']]],
    );
    assert.deepEqual(await restoredFingerprints('shop2', afterRename.id, 'shop_r_adopted'), afterRename.fingerprints);
    assert.notDeepEqual(await fingerprints(source), afterRename.fingerprints, 'the source moved on since');
  });

  it('a database of another server under the same name takes none of them (API)', async () => {
    assert.equal((await platform.ops.removeDatabase('shop2')).backups, 'keep');
    const other = await startTestCluster(platform.dir, { name: 'other' });
    try {
      const otherShop = await createFilledDatabase(other, 'shop', schema);
      const cookie = await loginCookie(consoleApp.url, 'owner@example.org');
      const body = {
        name: 'shop2',
        url: targetUrl(otherShop),
        storages: ['local', 'second'],
        verifyAfterBackup: false,
      };
      const added = await callApi(consoleApp.url, 'POST', '/databases', { cookie }, body);
      assert.equal(added.status, 201, added.text);
      const adopted = added.body.adopted as { count: number; skipped: Array<{ reason: string }> };
      assert.equal(adopted.count, 0);
      assert.match(
        adopted.skipped[0]?.reason ?? '',
        /taken from another server \(system identifier \d+; this one is \d+\)/,
      );
      const gone = await callApi(consoleApp.url, 'DELETE', '/databases/shop2?backups=delete', { cookie });
      assert.equal(gone.status, 200, gone.text);
      assert.deepEqual([gone.body.backups, gone.body.backupCount], ['delete', 0]);
    } finally {
      await other.stop('immediate');
    }
  });
});

describe('db remove --delete-backups: nothing of the database stays in storage', () => {
  it('added again in the console without JavaScript, it says what it took back; --delete-backups leaves nothing', async () => {
    const fields = new URLSearchParams({
      name: 'shop2',
      url: readerUrl(),
      schedule: '',
      timezone: 'UTC',
      workspace: '1',
    });
    for (const storage of ['local', 'second']) fields.append('storages', storage);
    const response = await consoleApp.fetch(`${consoleApp.url}/databases/new?/save`, {
      method: 'POST',
      body: fields,
      redirect: 'manual',
      // As a browser without JavaScript posts it: asking for the page, not the action's JSON.
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', origin: consoleApp.url },
    });
    const html = await response.text();
    assert.equal(response.status, 200, html.slice(0, 300));
    assert.match(html, /Adopted 1 earlier\s+backup found in storage second/);
    await platform.services.databases.update(systemActor, 'shop2', { verifyAfterBackup: false });
    const fresh = await (await platform.ops.startBackup('shop2')).result();
    assert.equal(fresh.status, 'complete');
    const second = path.join(platform.dir, 'second');
    assert.equal((await filesUnder(platform.backupsDir, 'shop2')).length, 3, 'object, roles object and manifest');
    assert.equal((await filesUnder(second, 'shop2')).length, 6);

    const removed = await cli(['db', 'remove', 'shop2', '--delete-backups', '--json']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual([JSON.parse(removed.stdout).backups, JSON.parse(removed.stdout).backupCount], ['delete', 2]);
    assert.deepEqual(await filesUnder(platform.backupsDir, 'shop2'), []);
    assert.deepEqual(await filesUnder(second, 'shop2'), []);
    const [audited] = await platform.runtime.catalog.access.listAudit({ action: 'database.delete', limit: 1 });
    assert.equal((audited?.after as { backups: string }).backups, 'delete');
  });
});
