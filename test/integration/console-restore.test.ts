import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import {
  assertActionRefused,
  settledRestorePage,
  startSignedInConsole,
  type SignedInConsole,
} from '../support/console.ts';
import { operatorActor } from '../../services/authz.ts';
import { addAccount } from '../support/accounts.ts';
import { tableFingerprint, type Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';

/**
 * Decodes devalue's flat form for plain data (objects, arrays, strings, numbers, booleans, null):
 * index 0 is the root and every nested value is an index into the array; negative indices are
 * undefined and the special numbers.
 */
function decodeActionData(text: string | undefined): Record<string, unknown> {
  const flat = JSON.parse(text ?? '[{}]') as unknown[];
  const specials: Record<number, unknown> = {
    [-1]: undefined,
    [-2]: null,
    [-3]: Number.NaN,
    [-4]: Infinity,
    [-5]: -Infinity,
    [-6]: -0,
  };
  const at = (i: number): unknown => {
    if (i < 0) return specials[i];
    const v = flat[i];
    if (Array.isArray(v)) return v.map((x) => at(x as number));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, at(x as number)]));
    return v;
  };
  return at(0) as Record<string, unknown>;
}

describe('console: storages, adding a database, the restore wizard and the notifier form', () => {
  let platform: Platform;
  let con: SignedInConsole;
  let source: PgTarget;
  let backupId: string;
  let restorePage: string;
  const HOOK_URL = 'http://127.0.0.1:9/hook/s3cr3t-path-token';

  /** The wizard's fields to restore the backup made below, confirmed with the database's name. */
  const restoreOf = (target: Record<string, string>) => ({
    database: 'shop',
    source: 'backup',
    backup: backupId,
    confirm: 'shop',
    ...target,
  });

  before(async () => {
    ({ platform, source } = await startSeededPlatform(
      'shop',
      `
      create table items (id int primary key, note text, price numeric(10,2));
      insert into items select g, 'item ' || g, g * 1.25 from generate_series(1, 1500) g;
      create table orders (id int primary key, item_id int references items, at timestamptz);
      insert into orders select g, 1 + g % 1500, timestamptz '2026-01-01' + g * interval '1 minute' from generate_series(1, 700) g;`,
    ));
    con = await startSignedInConsole(platform);
  });

  after(async () => {
    await con?.close();
    await platform?.stop();
  });

  it('adds a local storage through the form after testing it, names the bad field, and tests it from the list', async () => {
    const dir = path.join(platform.dir, 'vault');
    const bad = await con.action('/storages?/add', {
      name: 'vault',
      type: 'local',
      local_path: 'relative/dir',
      intent: 'test',
    });
    assertActionRefused(bad, /path: path must be absolute/);

    const tested = await con.action('/storages?/add', {
      name: 'vault',
      type: 'local',
      local_path: dir,
      intent: 'test',
    });
    assert.equal(tested.type, 'success', tested.data);
    assert.match(tested.data ?? '', /wrote, read back and deleted/);
    await assert.rejects(platform.runtime.catalog.storageConfig('vault'), 'a test alone saves nothing');

    const saved = await con.action('/storages?/add', { name: 'vault', type: 'local', local_path: dir, intent: 'save' });
    assert.equal(saved.type, 'success', saved.data);
    assert.deepEqual(await platform.runtime.catalog.storageConfig('vault'), { type: 'local', path: dir });

    const listed = await con.page('/storages');
    assert.match(listed, /data-storage="vault"/);
    assert.ok(listed.includes(dir), 'the list shows the storage settings');

    const test = await con.action('/storages?/test', { storage: 'vault' });
    assert.equal(test.type, 'success', test.data);
    assert.equal((decodeActionData(test.data).test as { ok: boolean; storage: string }).ok, true);
  });

  it('tests a connection URL without saving: the server version and size for the source, a clear error for a bad password', async () => {
    const good = await con.action('/databases/new?/test', { url: targetUrl(source), name: 'shop' });
    assert.equal(good.type, 'success', good.data);
    assert.match(good.data ?? '', /PostgreSQL 1\d/);
    const client = await connect('shop', source);
    const server = (
      await client.query<{ s: string; v: string }>(
        "select pg_database_size(current_database())::text as s, current_setting('server_version') as v",
      )
    ).rows[0]!;
    const size = Number(server.s);
    await client.end();
    const check = decodeActionData(good.data).check as { ok: boolean; version: string; sizeBytes: number };
    assert.equal(check.ok, true);
    assert.equal(check.version, server.v);
    // The reported size is the server's own figure (it may move by a few pages between the two reads).
    assert.ok(Math.abs(check.sizeBytes - size) < 256 * 1024, `reported size ${check.sizeBytes} vs ${size}`);

    const wrong = await con.action('/databases/new?/test', {
      url: targetUrl({ ...source, password: 'not-the-password' }),
    });
    assert.equal(wrong.type, 'failure');
    assert.equal(wrong.status, 502);
    assert.equal((decodeActionData(wrong.data).check as { ok: boolean }).ok, false);
    assert.match(wrong.data ?? '', /password authentication failed for user/);
    assert.equal((await platform.runtime.catalog.listDatabases()).length, 0, 'testing saves nothing');
  });

  it('adds the database and redirects to its page', async () => {
    const saved = await con.action('/databases/new?/save', {
      name: 'shop',
      url: targetUrl(source),
      storages: 'vault',
      schedule: '',
      timezone: 'Europe/Paris',
      workspace: '1',
    });
    assert.equal(saved.type, 'redirect', saved.data);
    assert.equal(saved.location, '/databases/shop');
    const db = await platform.runtime.catalog.getDatabase('shop');
    assert.deepEqual(db.storageNames, ['vault']);
    assert.equal(db.timezone, 'Europe/Paris');
    assert.equal(db.schedule, null);
  });

  it('restores a backup into a new database through the wizard, refusing a wrongly typed name', async () => {
    backupId = (await (await platform.ops.startBackup('shop')).result()).backupId;

    const step2 = await con.page('/restore?database=shop');
    assert.ok(step2.includes(backupId), 'step 2 lists the backup');
    const step4 = await con.page(
      `/restore?database=shop&source=backup&backup=${encodeURIComponent(backupId)}&to=new&name=shop_restored`,
    );
    assert.match(step4, /4\. Confirm/);
    assert.match(step4, /Start restore/);

    const newDatabase = { to: 'new', name: 'shop_restored' };
    const refused = await con.action('/restore?/start', restoreOf({ ...newDatabase, confirm: 'shop2' }));
    assertActionRefused(refused, /type the database's name \\"shop\\" exactly/);
    const admin = await connect('postgres', platform.cluster.target('postgres'));
    const exists = async () =>
      (await admin.query("select 1 from pg_database where datname = 'shop_restored'")).rowCount;
    assert.equal(await exists(), 0, 'nothing was restored');

    const started = await con.action('/restore?/start', restoreOf(newDatabase));
    assert.equal(started.type, 'redirect', started.data);
    assert.match(started.location ?? '', /^\/restores\/restore\/shop\//);
    restorePage = started.location!;

    const html = await settledRestorePage(con, restorePage, 60_000, 500);
    assert.match(html, /data-state="completed"/, html.slice(html.indexOf('<main'), html.indexOf('<main') + 1500));
    assert.match(html, /data-verified="true"/);
    assert.match(html, /public\.items/);
    assert.match(html, /2 tables, 2,?200 rows checked/);
    assert.ok(html.includes(backupId));
    assert.equal(await exists(), 1);
    await admin.end();

    const restored = { ...source, database: 'shop_restored' };
    for (const [table, order] of [
      ['items', 'id'],
      ['orders', 'id'],
    ] as const) {
      assert.deepEqual(
        await tableFingerprint(restored, table, order),
        await tableFingerprint(source, table, order),
        `table ${table} differs`,
      );
    }
  });

  it('shows a failed restore with its cause: a target URL that already holds tables is refused', async () => {
    const started = await con.action('/restore?/start', restoreOf({ to: 'url', url: targetUrl(source) }));
    assert.equal(started.type, 'redirect', started.data);
    const html = await settledRestorePage(con, started.location!, 30_000, 300);
    assert.match(html, /data-state="failed"/);
    assert.match(html, /already holds 2 table\(s\): restore into a new or empty database/);
    assert.doesNotMatch(html, /data-verified/);
    assert.ok(!html.includes(source.password!), 'the target password is not on the page');
    assert.equal((await tableFingerprint(source, 'items', 'id')).rows, 1500, 'the source is untouched');
  });

  it('a viewer may read the wizard but not restore, test a storage configuration, test a URL or add a notifier', async () => {
    await addAccount(con.services.access, operatorActor('test'), {
      email: 'viewer@example.org',
      password: 'viewer password 123',
      role: 'viewer',
    });
    const login = await fetch(`${con.url}/api/v1/session`, {
      method: 'POST',
      body: JSON.stringify({ email: 'viewer@example.org', password: 'viewer password 123' }),
      headers: { 'content-type': 'application/json' },
    });
    const viewer = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const wizard = await fetch(`${con.url}/restore?database=shop`, { headers: { cookie: viewer } });
    assert.equal(wizard.status, 200);
    assert.ok((await wizard.text()).includes(backupId), 'a viewer sees the backups');

    const restore = await con.action('/restore?/start', restoreOf({ to: 'new', name: 'by_viewer' }), viewer);
    assert.deepEqual([restore.type, restore.status], ['failure', 403], restore.data);
    const storage = await con.action(
      '/storages?/add',
      { name: 'probe', type: 'local', local_path: path.join(platform.dir, 'probe'), intent: 'test' },
      viewer,
    );
    assert.deepEqual([storage.type, storage.status], ['failure', 403], storage.data);
    const url = await con.action('/databases/new?/test', { url: targetUrl(source) }, viewer);
    assert.deepEqual([url.type, url.status], ['failure', 403], url.data);
    const notifier = await con.action(
      '/notifiers?/save',
      { name: 'by-viewer', type: 'webhook', webhook_url: 'http://127.0.0.1:9/x', events: 'backup_failed' },
      viewer,
    );
    assert.deepEqual([notifier.type, notifier.status], ['failure', 403], notifier.data);
    await assert.rejects(platform.runtime.catalog.notifiers.get('by-viewer'));
    const admin = await connect('postgres', platform.cluster.target('postgres'));
    assert.equal((await admin.query("select 1 from pg_database where datname = 'by_viewer'")).rowCount, 0);
    await admin.end();
  });

  it('adds a webhook notifier through the form, lists it without its secret URL, and keeps the secret on an edit left blank', async () => {
    const added = await con.action('/notifiers?/save', {
      name: 'ops-hook',
      type: 'webhook',
      webhook_url: HOOK_URL,
      webhook_method: 'POST',
      events: ['backup_failed', 'database_down'],
      databases: 'shop',
    });
    assert.equal(added.type, 'success', added.data);
    const listed = await con.page('/notifiers');
    assert.match(listed, /data-notifier="ops-hook"/);
    assert.ok(!listed.includes('s3cr3t-path-token'), 'the webhook URL is a secret');
    const record = await platform.runtime.catalog.notifiers.get('ops-hook');
    assert.deepEqual([...record.events].sort(), ['backup_failed', 'database_down']);
    assert.deepEqual(record.databases, ['shop']);

    const editForm = await con.page('/notifiers?edit=ops-hook');
    assert.match(editForm, /Edit notifier ops-hook/);
    assert.ok(!editForm.includes('s3cr3t-path-token'), 'the edit form never shows the secret');

    const edited = await con.action('/notifiers?/save', {
      name: 'ops-hook',
      type: 'webhook',
      webhook_url: '',
      webhook_method: 'GET',
      events: ['backup_succeeded'],
      databases: [],
    });
    assert.equal(edited.type, 'success', edited.data);
    const config = await platform.runtime.catalog.notifiers.config('ops-hook');
    assert.equal(config.type === 'webhook' && config.url, HOOK_URL, 'a blank secret keeps the stored one');
    assert.equal(config.type === 'webhook' && config.method, 'GET');
    const after = await platform.runtime.catalog.notifiers.get('ops-hook');
    assert.deepEqual(after.events, ['backup_succeeded']);
    assert.deepEqual(after.databases, []);

    const bad = await con.action('/notifiers?/save', {
      name: 'bad-hook',
      type: 'webhook',
      webhook_url: 'ftp://nope',
      events: 'backup_failed',
    });
    assertActionRefused(bad, /url must be an http\(s\) URL/);
  });
});
