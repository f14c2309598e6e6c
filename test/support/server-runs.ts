/**
 * A whole server backed up as one, on the platform of a suite that already runs one (the schedules
 * suite): `hindsight server add --all-databases` on its real PostgreSQL, runs of the real
 * `serverBackup` workflow on its real Temporal dev server. The first run registers
 * and backs up both databases; a database created afterwards is registered, backed up and
 * announced (a `database_discovered` row and its delivery to a webhook); a dropped one is marked
 * dropped, announced, no longer backed up, and its backups stay in the catalog and in storage.
 * A server of a second workspace announces its new database to that workspace's notifier alone.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, quoteIdent, targetUrl } from '../../lib/pg/connection.ts';
import { systemActor } from '../../services/authz.ts';
import { serverScheduleId, type ServerBackupOutcome } from '../../temporal/contracts/servers.ts';
import type { SignedInConsole } from './console.ts';
import { hindsightResult } from './hindsight-cli.ts';
import { createFilledDatabase, type Platform } from './platform.ts';
import { itemsTable } from './seeded-platform.ts';
import { waitFor } from './wait.ts';

/**
 * The checks, against `platformOf()`'s platform: its worker running, its test server holding the
 * catalog database and `others` (left out of the server's runs by --exclude).
 */
export function describeServerRuns(
  platformOf: () => Platform,
  consoleOf: () => SignedInConsole,
  others: string[],
): void {
  describe('servers: every database of a server, discovered, backed up and followed when dropped', () => {
    let platform: Platform;
    let hook: Server;
    let acmeHook: Server | undefined;
    const received: string[] = [];
    const cli = (args: string[]) => hindsightResult(platform.configEnv, args);
    const run = async (): Promise<ServerBackupOutcome> =>
      (await platform.services.servers.run(systemActor, 'pg')).result();
    const admin = async (sql: string) => {
      const client = await connect('test server', platform.cluster.target('postgres'));
      try {
        return await client.query<Record<string, string>>(sql);
      } finally {
        await client.end();
      }
    };
    const events = async (event: string) =>
      (await platform.runtime.catalog.health.notifications()).filter((n) => n.event === event);

    before(async () => {
      platform = platformOf();
      await createFilledDatabase(platform.cluster, 'alpha', itemsTable(300));
      await createFilledDatabase(platform.cluster, 'beta', itemsTable(200));
      let url: string;
      ({ hook, url } = await startReceiver(received));
      await platform.services.notifiers.save(systemActor, 'ops', { type: 'webhook', url });
    });

    after(() => {
      hook?.close();
      acmeHook?.close();
    });

    it('adds the server by connecting to it: its version and system identifier are recorded', async () => {
      const url = targetUrl(platform.cluster.target('postgres'));
      const refused = await cli(['server', 'add', 'pg', '--url', url.replace(/:\d+\//, ':1/'), '--all-databases']);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /server "pg": cannot connect .*nothing was saved: correct the URL or password/);

      // The catalog lives on the same test server: it is no database to back up.
      const added = await cli([
        'server',
        'add',
        'pg',
        '--url',
        url,
        '--all-databases',
        '--exclude',
        'catalog',
        ...others.flatMap((name) => ['--exclude', name]),
        '--verify',
        'off',
        // New Year only: the schedule is checked, never fired during the suite.
        '--schedule',
        '0 0 1 1 *',
        '--json',
      ]);
      assert.equal(added.code, 0, added.stderr);
      const record = JSON.parse(added.stdout) as { systemIdentifier: string; allDatabases: boolean };
      const { rows } = await admin('select system_identifier::text as id from pg_control_system()');
      assert.equal(record.systemIdentifier, rows[0]!.id);
      const schedule = await platform.client.schedule.getHandle(serverScheduleId('pg')).describe();
      const next = schedule.info.nextActionTimes[0]!;
      assert.equal(next.toISOString(), `${new Date().getUTCFullYear() + 1}-01-01T00:00:00.000Z`);
      assert.ok(
        !added.stdout.includes(platform.cluster.target('postgres').password ?? '\u0000'),
        'no password printed',
      );
    });

    it('the first run registers both databases and backs each up', async () => {
      const outcome = await run();
      assert.deepEqual(
        outcome.registered.map((r) => r.name),
        ['pg-alpha', 'pg-beta'],
      );
      assert.deepEqual(outcome.excluded.sort(), ['catalog', ...others, 'postgres'].sort());
      assert.deepEqual(
        outcome.backups.map((b) => [b.database, b.status]),
        [
          ['pg-alpha', 'complete'],
          ['pg-beta', 'complete'],
        ],
      );
      for (const name of ['pg-alpha', 'pg-beta']) {
        const [backup] = await platform.runtime.catalog.listBackups(name);
        assert.equal(backup?.status, 'complete', name);
        assert.ok(backup.objectKey, name);
        assert.ok((await stat(path.join(platform.backupsDir, backup.objectKey))).size > 0, `${name} object in storage`);
      }
      const shown = await cli(['db', 'show', 'pg-alpha']);
      assert.match(shown.stdout, /^server {8}pg$/m);
    });

    it('a database created later is registered, backed up and announced on the next run', async () => {
      await createFilledDatabase(platform.cluster, 'gamma', itemsTable(50));
      const outcome = await run();
      assert.deepEqual(outcome.registered, [{ datname: 'gamma', name: 'pg-gamma' }]);
      assert.deepEqual(
        outcome.backups.map((b) => [b.database, b.status]),
        [
          ['pg-alpha', 'complete'],
          ['pg-beta', 'complete'],
          ['pg-gamma', 'complete'],
        ],
      );
      const gamma = (await events('database_discovered')).filter((n) => n.message.includes('"gamma"'));
      assert.equal(gamma.length, 1);
      assert.match(gamma[0]!.message, /registered as "pg-gamma"/);
      // Through the notifier pipeline: planned for the workspace's notifier and sent to its webhook.
      await waitFor(
        'the webhook to receive the discovery of gamma',
        async () => (received.some((body) => body.includes('pg-gamma')) ? true : undefined),
        15_000,
      );
      const deliveries = await platform.runtime.catalog.notifiers.deliveries({ notifier: 'ops' });
      const delivery = deliveries.find((d) => d.event === 'database_discovered' && d.message.includes('"gamma"'));
      assert.equal(delivery?.status, 'sent');
    });

    it('a dropped database is marked dropped and announced; its backups stay; it is no longer backed up', async () => {
      const before = await platform.runtime.catalog.listBackups('pg-beta');
      await admin(`drop database ${quoteIdent('beta')} with (force)`);
      const outcome = await run();
      assert.deepEqual(outcome.dropped, ['pg-beta']);
      assert.deepEqual(
        outcome.backups.map((b) => b.database),
        ['pg-alpha', 'pg-gamma'],
      );
      const mine = await platform.runtime.catalog.servers.serverDatabases('pg');
      assert.ok(mine.find((d) => d.name === 'pg-beta')?.droppedAt, 'pg-beta has dropped_at');
      assert.equal(mine.find((d) => d.name === 'pg-alpha')?.droppedAt, null);
      const dropped = await events('database_dropped');
      assert.equal(dropped.length, 1);
      assert.match(dropped[0]!.message, /"pg-beta" is no longer on server "pg"/);
      const after = await platform.runtime.catalog.listBackups('pg-beta');
      assert.deepEqual(
        after.map((b) => b.id),
        before.map((b) => b.id),
      );
      for (const b of after) assert.ok((await stat(path.join(platform.backupsDir, b.objectKey!))).size > 0);

      const shown = await cli(['server', 'show', 'pg']);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /^pg-beta +beta +\S+ +\d{4}-\d\d-\d\dT/m);
      assert.match(shown.stdout, /^pg-gamma +gamma +\S+ +-$/m);
    });

    it("the console's Servers page lists the server and its databases, the dropped one marked (no JavaScript needed)", async () => {
      const html = await consoleOf().page('/servers');
      assert.match(html, /data-server="pg"/);
      const rowOf = (name: string) => html.slice(html.indexOf(`data-database="${name}"`)).split('</tr>')[0]!;
      assert.match(rowOf('pg-beta'), />\s*Dropped [^<]+</);
      assert.match(rowOf('pg-alpha'), />\s*Backed up\s*</);
      assert.ok(html.includes('href="/databases/pg-gamma"'), 'each database links to its page');

      const web = consoleOf();
      const answer = await web.fetch(`${web.url}/api/v1/servers/pg`);
      assert.equal(answer.status, 200);
      const server = (await answer.json()) as {
        systemIdentifier: string;
        databases: Array<{ name: string; droppedAt: string | null }>;
      };
      assert.deepEqual(
        server.databases.map((d) => [d.name, d.droppedAt !== null]),
        [
          ['pg-alpha', false],
          ['pg-beta', true],
          ['pg-gamma', false],
        ],
      );
    });

    it("a server of another workspace announces its databases to that workspace's notifiers only", async () => {
      await createFilledDatabase(platform.cluster, 'delta', itemsTable(20));
      const { rows } = await admin('select datname from pg_database where not datistemplate');
      const acme = await addWorkspaceServer(
        platform,
        rows.map((r) => r.datname!).filter((name) => name !== 'delta'),
      );
      acmeHook = acme.hook;
      await checkHeardInItsWorkspaceOnly(platform, received, acme);
    });
  });
}

/** A webhook receiver on a free port that keeps every body it is sent. */
async function startReceiver(into: string[]): Promise<{ hook: Server; url: string }> {
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      into.push(body);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  return { hook, url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` };
}

interface WorkspaceServer {
  workspaceId: number;
  hook: Server;
  received: string[];
}

/** Workspace `acme` with a webhook notifier and a storage of its own, and its server `acme` (every database excluded but `delta`). */
async function addWorkspaceServer(platform: Platform, excludes: string[]): Promise<WorkspaceServer> {
  const { id: workspaceId } = await platform.runtime.catalog.access.createWorkspace('acme');
  const received: string[] = [];
  const { hook, url: hookUrl } = await startReceiver(received);
  const webhook = { type: 'webhook', url: hookUrl };
  await platform.services.notifiers.save(systemActor, 'acme-ops', webhook, ['database_discovered'], workspaceId);
  const dir = path.join(platform.dir, 'acme-store');
  await mkdir(dir, { recursive: true });
  await platform.services.storages.save(systemActor, 'acme-store', { type: 'local', path: dir }, { workspaceId });
  const url = targetUrl(platform.cluster.target('postgres'));
  const settings = { allDatabases: true, excludes, storages: ['acme-store'], verifyAfterBackup: false };
  await platform.services.servers.add(systemActor, { name: 'acme', url, workspaceId, ...settings });
  return { workspaceId, hook, received };
}

/**
 * A run of acme's server discovers `delta`: the row carries acme's workspace, acme's notifier
 * receives it, and the default workspace's notifier (`ops`, which hears every event) gets nothing
 * of it, as acme's got nothing of server `pg`.
 */
async function checkHeardInItsWorkspaceOnly(platform: Platform, defaultReceived: string[], acme: WorkspaceServer) {
  const outcome = await (await platform.services.servers.run(systemActor, 'acme')).result();
  assert.deepEqual(outcome.registered, [{ datname: 'delta', name: 'acme-delta' }]);
  const rows = await platform.runtime.catalog.health.notifications();
  const row = rows.find((n) => n.event === 'database_discovered' && n.message.includes('"delta"'));
  assert.equal(row?.workspaceId, acme.workspaceId, "the row carries the server's workspace");
  await waitFor(
    "acme's webhook to receive the discovery of delta",
    async () => (acme.received.some((body) => body.includes('acme-delta')) ? true : undefined),
    15_000,
  );
  const deliveries = await platform.runtime.catalog.notifiers.deliveries({ limit: 500 });
  assert.deepEqual(
    deliveries.filter((d) => d.message.includes('"delta"')).map((d) => [d.notifierName, d.event, d.status]),
    [['acme-ops', 'database_discovered', 'sent']],
    "planned for acme's notifier alone",
  );
  assert.ok(!defaultReceived.some((body) => body.includes('delta')), 'the default workspace heard nothing of it');
  const ofPg = deliveries.filter((d) => d.message.includes('server "pg"'));
  assert.ok(ofPg.length > 0 && ofPg.every((d) => d.notifierName === 'ops'), 'acme heard nothing of server pg');
  assert.ok(!acme.received.some((body) => body.includes('gamma')));
}
