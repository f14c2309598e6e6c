/**
 * Changing a registered database in place: a password rotated on the server and new storages with
 * `hindsight db update`, a wrong password refused with nothing saved, and PATCH /api/v1/databases
 * for one field, refused to a viewer. Earlier backups stay attached and still restore by id.
 * Real catalog, PostgreSQL, Temporal and worker.
 */
import assert from 'node:assert/strict';
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { SECRET_MARK } from '../../services/audit-mask.ts';
import { callApi, loginCookie, PASSWORD, type OpenApiDoc } from '../support/api-v1-client.ts';
import { startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import { hindsightResult, type CliResult } from '../support/hindsight-cli.ts';
import type { Platform } from '../support/platform.ts';
import { assertSameTables, startSeededPlatform } from '../support/seeded-platform.ts';

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

describe('db update: a database changed in place keeps its backups', () => {
  let consoleApp: SignedInConsole;
  let earlierBackup: string;
  const cli = (args: string[]): Promise<CliResult> => hindsightResult(platform.configEnv, args);
  const patch = (cookie: string, body: unknown) =>
    callApi(consoleApp.url, 'PATCH', '/databases/shop', { cookie }, body);

  before(async () => {
    earlierBackup = await startShop();
    consoleApp = await startSignedInConsole(platform);
  });

  after(async () => {
    await consoleApp?.close();
    await platform?.stop();
  });

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
    await consoleApp.services.access.createUser(ownerActor, viewer);
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
