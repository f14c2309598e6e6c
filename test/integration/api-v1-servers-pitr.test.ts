/**
 * PITR of a whole server through /api/v1 (PUT and DELETE /servers/{name}/pitr), against a real
 * PostgreSQL cluster and Temporal: a role that cannot stream is refused with the fix named and leaves
 * no database record behind; a superuser's server gets one archive (its connection database carries
 * it), a window to restore to, and off drops the slot and says so; off again reports it was off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { callApi, loginCookie } from '../support/api-v1-client.ts';
import { getPage, startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import { type Platform } from '../support/platform.ts';
import { itemsTable, startSeededPlatform } from '../support/seeded-platform.ts';
import { waitFor } from '../support/wait.ts';

describe('/api/v1/servers/{name}/pitr: on, refused without REPLICATION, off', () => {
  let platform: Platform;
  let consoleApp: SignedInConsole;
  let source: PgTarget;
  let cookie: string;
  const call = (method: string, path: string, body?: unknown) =>
    callApi(consoleApp.url, method, path, { cookie }, body);
  const slots = async () => {
    const client = await connect('test', platform.cluster.target('postgres'));
    try {
      const { rows } = await client.query<{ slot_name: string }>('select slot_name from pg_replication_slots');
      return rows.map((r) => r.slot_name).sort();
    } finally {
      await client.end();
    }
  };

  before(async () => {
    ({ platform, source } = await startSeededPlatform('shop', itemsTable(200)));
    consoleApp = await startSignedInConsole(platform);
    cookie = await loginCookie(consoleApp.url, 'owner@example.org');
    const admin = await connect('test', platform.cluster.target('postgres'));
    await admin.query(`create role plain login password 'plain-pw'`);
    await admin.end();
  });

  after(async () => {
    await consoleApp?.close();
    await platform?.stop();
  });

  /** The drill schedule follows PITR, a bad cron is refused naming the field, and a drill run now is recorded. */
  async function drillsThroughTheApi(): Promise<void> {
    const drills = await call('GET', '/servers/pg/drills');
    assert.equal(drills.status, 200, drills.text);
    assert.deepEqual([drills.body.schedule, drills.body.scheduled, drills.body.provenUpTo], ['17 4 * * 0', true, null]);
    await platform.client.schedule.getHandle('pitrdrill/pg').describe();
    const bad = await call('PATCH', '/servers/pg', { pitrDrillSchedule: 'sometimes' });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.body.error!.message, /pitrDrillSchedule/);
    assert.equal((await call('PATCH', '/servers/pg', { pitrDrillSchedule: '0 5 * * 1' })).status, 200);
    const started = await call('POST', '/servers/pg/drills');
    assert.equal(started.status, 202, started.text);
    assert.match(String(started.body.workflowId), /^pitrdrill\/pg\//);
    const outcome = (await platform.client.workflow.getHandle(String(started.body.workflowId)).result()) as {
      passed: boolean;
      provenUpTo: string | null;
      drills: Array<{ outcome: string; error: string | null }>;
    };
    assert.ok(outcome.passed && outcome.drills.length >= 2, JSON.stringify(outcome.drills.map((d) => d.error)));
    const shown = (await call('GET', '/servers/pg')).body.drills as {
      lastOutcome: string;
      schedule: string;
      provenUpTo: string;
    };
    assert.deepEqual([shown.lastOutcome, shown.schedule], ['passed', '0 5 * * 1']);
    assert.equal(shown.provenUpTo, outcome.provenUpTo);
    // The console's Servers page tells the same, in UTC to the second.
    const page = await getPage(consoleApp, '/servers');
    const proven = /data-proven-up-to[^>]*>([^<]*)</.exec(page)?.[1];
    const utc = `${outcome.provenUpTo!.slice(0, 19).replace('T', ' ')} UTC`;
    assert.equal(proven, utc, 'window proven up to, on the Servers page');
    assert.match(page, /Last drill passed/);
    // And on the dashboard, one line per drilled server.
    const dashboard = await getPage(consoleApp, '/');
    const line = /<li[^>]*data-server="pg"[^>]*>[\s\S]*?<\/li>/.exec(dashboard)?.[0] ?? '';
    assert.equal(/data-proven-up-to[^>]*>([^<]*)</.exec(line)?.[1], utc, 'window proven up to, on the dashboard');
    assert.match(line, /Last drill passed/);
  }

  it('a server whose role has no REPLICATION: refused naming the fix, and no carrier record is left', async () => {
    const url = targetUrl({ ...source, database: 'postgres', user: 'plain', password: 'plain-pw' });
    const added = await call('POST', '/servers', { name: 'pgplain', url, verifyAfterBackup: false });
    assert.equal(added.status, 201, added.text);
    const refused = await call('PUT', '/servers/pgplain/pitr', {});
    // The source refused: an upstream's answer, as every refusal by a source database is.
    assert.equal(refused.status, 502, refused.text);
    assert.equal(refused.body.error?.kind, 'access_denied');
    assert.match(refused.body.error!.message, /the role has no REPLICATION attribute.*ALTER ROLE <role> REPLICATION/);
    const carrier = await platform.runtime.catalog.findDatabase('pgplain-postgres');
    assert.equal(carrier ?? null, null, 'the carrier registered for the attempt is removed');
    assert.deepEqual(await slots(), []);
  });

  it('a superuser server: one archive carried by its connection database, a window, then off drops the slot', async () => {
    const url = targetUrl({ ...source, database: 'postgres' });
    assert.equal((await call('POST', '/servers', { name: 'pg', url, verifyAfterBackup: false })).status, 201);
    const on = await call('PUT', '/servers/pg/pitr', { partialIntervalMs: 500 });
    assert.equal(on.status, 200, on.text);
    assert.equal(on.body.archiveDatabase, 'pg-postgres');
    assert.equal(on.body.tookOver, false);
    assert.match(String(on.body.baseBackupId), /^\d{8}T\d{6}Z-[0-9a-f]+$/);
    assert.match(String(on.body.archiverWorkflowId), /pg-postgres/);
    // The archiver creates the slot as it starts.
    await waitFor("the server's slot", async () => ((await slots()).length > 0 ? true : undefined), 60_000);
    assert.deepEqual(await slots(), ['hindsight_pg_postgres']);

    const shown = await waitFor(
      'the server to show a recoverable window',
      async () => {
        const answer = await call('GET', '/servers/pg');
        const pitr = answer.body.pitr as { enabled: boolean; windows: unknown[] } | undefined;
        return pitr?.enabled && pitr.windows.length > 0 ? pitr : undefined;
      },
      120_000,
      500,
    );
    assert.equal(shown.enabled, true);
    await drillsThroughTheApi();

    const off = await call('DELETE', '/servers/pg/pitr');
    assert.equal(off.status, 200, off.text);
    assert.deepEqual([off.body.archiveDatabase, off.body.slotDropped, off.body.wasOn], ['pg-postgres', true, true]);
    assert.deepEqual(await slots(), []);
    const again = await call('DELETE', '/servers/pg/pitr');
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.wasOn, false);
    const after = (await call('GET', '/servers/pg')).body.pitr as { enabled: boolean };
    assert.equal(after.enabled, false);
    const drills = (await call('GET', '/servers/pg/drills')).body as { schedule: string; scheduled: boolean };
    assert.deepEqual([drills.schedule, drills.scheduled], ['0 5 * * 1', false], 'no drills while PITR is off');
    await assert.rejects(platform.client.schedule.getHandle('pitrdrill/pg').describe(), /not found/i);
  });
});
