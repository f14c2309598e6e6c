import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spreadSecond } from '../../lib/schedule/spread.ts';
import { operatorActor } from '../../services/authz.ts';
import { backupProgressQuery } from '../../temporal/contracts/backup.ts';
import type { LiveJob } from '../../services/status/jobs.ts';
import { CONSOLE_OWNER, startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import { holdBulkDumps, seedShopAndBulk } from '../support/console-database-fixture.ts';
import { settingsPageTests } from '../support/console-settings.ts';
import { readEvents } from '../support/event-stream.ts';
import { attributeValues, countOf, markup } from '../support/html-reading.ts';
import { assertSuccessfulReportPage } from '../support/verification-page.ts';
import { cronParserRuns } from '../support/next-runs.ts';
import { startPlatform, type Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';
import { addAccount } from '../support/accounts.ts';

const PASSWORD = 'a long enough password for tests';

describe('console: the database page, its live progress stream and the verification report', () => {
  let platform: Platform;
  let web: SignedInConsole;
  /** shop's backups, oldest first, with the age the test gives each (days). */
  const shopBackups: Array<{ id: string; ageDays: number }> = [];

  const post = (pathAndAction: string, fields: Record<string, string>, accept = 'application/json') =>
    web.fetch(`${web.url}${pathAndAction}`, {
      method: 'POST',
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
      headers: { origin: web.url, accept, 'content-type': 'application/x-www-form-urlencoded' },
    });
  const page = async (pathname: string) => {
    const response = await web.fetch(`${web.url}${pathname}`, { redirect: 'manual' });
    assert.equal(response.status, 200, `GET ${pathname}: HTTP ${response.status}`);
    return markup(await response.text());
  };

  before(async () => {
    // The UI served by the console, as `npm start` does: its links then follow who may open it.
    platform = await startPlatform({ temporalUi: { port: await freePort(), codecEndpoint: '/codec' } });
    shopBackups.push(...(await seedShopAndBulk(platform)));
    web = await startSignedInConsole(platform);
  });

  after(async () => {
    await web?.close();
    await platform?.stop();
  });

  it('renders the database page: every backup newest first, per-copy state, Temporal links, the connection without a password, and the charts', async () => {
    const html = await page('/databases/shop');
    const ids = attributeValues(html, 'data-backup-id');
    assert.deepEqual(
      ids,
      [...shopBackups].reverse().map((b) => b.id),
      'every backup, newest first',
    );
    const records = await platform.runtime.catalog.listBackups('shop');
    for (const b of records) {
      assert.ok(html.includes(encodeURIComponent(b.workflowId)), `the Temporal UI link of ${b.id}`);
    }
    assert.equal(countOf(html, 'local: complete'), 5, 'each backup shows its copy in the local storage as complete');
    const db = await platform.runtime.catalog.getDatabase('shop');
    assert.ok(html.includes(`${db.username}@${db.host}:${db.port}/${db.dbname}`), 'the connection');
    assert.ok(!/password/i.test(html.replace(/type="password"/g, '')), 'no password anywhere on the page');
    assert.ok(
      html.includes('data-testid="size-chart"') && html.includes('data-testid="duration-chart"'),
      'size and duration charts',
    );
    assert.equal(countOf(html, '<circle class="dot'), 10, 'one point per complete backup on each chart');
    assert.ok(
      html.includes('href="/hooks/shop"') && html.includes('href="/restore?database=shop"'),
      'links to the hooks page and the restore wizard',
    );
    assert.equal((await web.fetch(`${web.url}/databases/nosuch`, { redirect: 'manual' })).status, 404);
  });

  it('saves a schedule through the form action and lists its next five runs; an invalid cron saves nothing', async () => {
    const saved = await post('/databases/shop?/schedule', { cron: '15 4 * * *', timezone: 'Europe/Paris' });
    const answer = (await saved.json()) as { type: string; data: string };
    assert.equal(answer.type, 'success', JSON.stringify(answer));
    const db = await platform.runtime.catalog.getDatabase('shop');
    assert.deepEqual([db.schedule, db.timezone], ['15 4 * * *', 'Europe/Paris']);
    const schedule = await platform.client.schedule.getHandle('backup/shop').describe();
    assert.deepEqual(schedule.spec.timezone, 'Europe/Paris', 'the Temporal schedule runs in the chosen zone');

    const html = await page('/databases/shop');
    const listed = attributeValues(html.slice(html.indexOf('data-testid="next-runs"')), 'datetime').slice(0, 5);
    // The same five instants from cron-parser, at the second Temporal starts this database's backups.
    const expected = cronParserRuns('15 4 * * *', 'Europe/Paris', spreadSecond('shop'), 5);
    assert.deepEqual(listed, expected);
    assert.equal(countOf(html, 'data-testid="next-run"'), 5);
    assert.equal(countOf(html, '04:15 GMT+'), 5, 'shown as the wall clock in Paris');

    const refused = await post('/databases/shop?/schedule', { cron: '61 4 * * *', timezone: 'Europe/Paris' });
    const failure = (await refused.json()) as { type: string; status: number; data: string };
    assert.deepEqual([failure.type, failure.status], ['failure', 400]);
    assert.match(failure.data, /minute 61 is out of range 0–59 in '61 4 \* \* \*'/);
    const unchanged = await platform.runtime.catalog.getDatabase('shop');
    assert.equal(unchanged.schedule, '15 4 * * *', 'nothing saved');
  });

  it('previews retention: lists the planned deletions and why, deletes nothing, and saves only when asked', async () => {
    const before = (await platform.runtime.catalog.listBackups('shop')).map((b) => [b.id, b.status]);
    const filesBefore = (await readdir(path.join(platform.backupsDir, 'shop'))).sort();

    const response = await post('/databases/shop?/retentionPreview', { kind: 'count', keepLast: '2' }, 'text/html');
    assert.equal(response.status, 200);
    const html = markup(await response.text());
    const planned = html.slice(html.indexOf('data-testid="retention-plan"'));
    const deleted = [...planned.matchAll(/data-testid="retention-delete" data-backup-id="([^"]+)"/g)].map((m) => m[1]!);
    const kept = [...planned.matchAll(/data-testid="retention-keep" data-backup-id="([^"]+)"/g)].map((m) => m[1]!);
    // keepLast 2 keeps the two newest; the newest is also the last one standing. The other three go.
    const ids = shopBackups.map((b) => b.id);
    assert.deepEqual(deleted.sort(), ids.slice(0, 3).sort());
    assert.deepEqual(kept.sort(), ids.slice(3).sort());
    assert.equal(countOf(planned, 'not one of the 2 newest'), 3, 'each deletion says why');
    assert.ok(planned.includes('Save policy'), 'saving is offered after the preview');

    assert.deepEqual(
      (await platform.runtime.catalog.listBackups('shop')).map((b) => [b.id, b.status]),
      before,
      'the catalog is unchanged',
    );
    assert.deepEqual(
      (await readdir(path.join(platform.backupsDir, 'shop'))).sort(),
      filesBefore,
      'storage is unchanged',
    );
    assert.equal(
      (await platform.runtime.catalog.getDatabase('shop')).retentionPolicy,
      null,
      'the policy is not saved by a preview',
    );

    const bad = await post('/databases/shop?/retentionPreview', { kind: 'count', keepLast: '0' });
    const failure = (await bad.json()) as { type: string; data: string };
    assert.equal(failure.type, 'failure');
    assert.match(failure.data, /keepLast: keepLast must be at least 1/);

    const saved = await post('/databases/shop?/retentionSave', {
      policy: JSON.stringify({ kind: 'count', keepLast: 2 }),
    });
    assert.equal(((await saved.json()) as { type: string }).type, 'success');
    assert.deepEqual((await platform.runtime.catalog.getDatabase('shop')).retentionPolicy, {
      kind: 'count',
      keepLast: 2,
    });
    assert.deepEqual(
      (await platform.runtime.catalog.listBackups('shop')).map((b) => [b.id, b.status]),
      before,
      'saving a policy deletes nothing by itself',
    );
  });

  it("shows a verification report with every table's expected and restored counts, linked from the backups table", async () => {
    const newest = shopBackups.at(-1)!.id;
    const requested = await platform.ops.requestVerification('shop', { backupId: newest });
    const v = await requested.finished(120_000);
    assert.equal(v.status, 'successful', v.reason ?? '');
    const html = await page(`/verifications/${v.id}`);
    assertSuccessfulReportPage(html, [
      ['billing.invoices', '130', '130', 'whole: same', 'match'],
      ['public.items', '700', '700', 'whole: same', 'match'],
    ]);
    const dbPage = await page('/databases/shop');
    assert.ok(dbPage.includes(`href="/verifications/${v.id}"`), 'the backups table links to the report');
    assert.ok(dbPage.includes('data-testid="restore-chart"'), 'the measured restore time is charted');
    assert.equal((await web.fetch(`${web.url}/verifications/v-does-not-exist`, { redirect: 'manual' })).status, 404);
  });

  it('answers only on behalf of the signed-in user: a viewer reads but cannot change, another workspace sees nothing', async () => {
    const owner = await web.services.access.actorForEmail('owner@example.org', 'test');
    await web.services.access.createWorkspace(operatorActor('test'), 'blue');
    await addAccount(web.services.access, owner, {
      email: 'viewer@example.org',
      password: PASSWORD,
      workspace: 'default',
      role: 'viewer',
    });
    await addAccount(web.services.access, operatorActor('test'), {
      email: 'blue@example.org',
      password: PASSWORD,
      workspace: 'blue',
      role: 'owner',
    });
    const cookieOf = async (email: string) => {
      const login = await fetch(`${web.url}/api/v1/session`, {
        method: 'POST',
        body: JSON.stringify({ email, password: PASSWORD }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(login.status, 200);
      return (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    };
    const as = (cookie: string, pathname: string, init: RequestInit = {}) =>
      fetch(`${web.url}${pathname}`, {
        ...init,
        redirect: 'manual',
        headers: { ...(init.headers as Record<string, string> | undefined), cookie },
      });
    const [viewer, stranger] = [await cookieOf('viewer@example.org'), await cookieOf('blue@example.org')];
    const verification = (await platform.ops.listVerifications('shop'))[0]!.id;

    const viewerPage = await as(viewer, '/databases/shop');
    assert.equal(viewerPage.status, 200);
    const viewerHtml = await viewerPage.text();
    for (const offer of ['Back up now', 'Verify newest backup', 'Save schedule', 'Preview', 'Restore…']) {
      assert.ok(!viewerHtml.includes(offer), `a viewer is not offered "${offer}"`);
    }
    assert.match(viewerHtml, /Next runs of/, 'but sees the schedule');
    const viewerOverview = await (await as(viewer, '/')).text();
    assert.ok(
      viewerOverview.includes('data-testid="database-card-shop"') && !viewerOverview.includes('Back up shop now'),
      'nor on the overview',
    );
    const ownerHtml = await (await web.fetch(`${web.url}/databases/shop`)).text();
    for (const offer of ['Back up now', 'Verify newest backup', 'Save schedule', 'Preview', 'Restore…'])
      assert.ok(ownerHtml.includes(offer), `the owner is offered "${offer}"`);
    assert.equal((await as(viewer, `/verifications/${verification}`)).status, 200);
    const form = {
      method: 'POST',
      body: new URLSearchParams({ cron: '0 5 * * *', timezone: 'UTC' }).toString(),
      headers: { origin: web.url, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    };
    const refused = (await (await as(viewer, '/databases/shop?/schedule', form)).json()) as {
      type: string;
      status: number;
      data: string;
    };
    assert.deepEqual([refused.type, refused.status], ['failure', 403]);
    assert.match(refused.data, /database\.schedule.*needs the editor role/);
    assert.equal((await platform.runtime.catalog.getDatabase('shop')).schedule, '15 4 * * *', 'unchanged');

    for (const pathname of ['/databases/shop', '/databases/shop/events', `/verifications/${verification}`]) {
      const response = await as(stranger, pathname);
      assert.equal(response.status, 404, `${pathname} for a member of another workspace`);
      await response.body?.cancel();
    }
  });

  it('streams the progress of a running backup over server-sent events, then its end, and stops when the client leaves', async () => {
    const anonymous = await fetch(`${web.url}/databases/bulk/events`, { redirect: 'manual' });
    assert.notEqual(anonymous.status, 200, 'no stream without a session');
    await anonymous.body?.cancel();

    // Counts the stream's ticks (the real service underneath): they must stop once the client goes away.
    const services = web.services.database;
    const realJobs = services.jobs.bind(services);
    let ticks = 0;
    services.jobs = (actor, database) => {
      if (database === 'bulk') ticks += 1;
      return realJobs(actor, database);
    };

    const abort = new AbortController();
    const stream = await web.fetch(`${web.url}/databases/bulk/events`, { signal: abort.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);

    const startedAt = Date.now();
    const started = await post('/databases/bulk?/backup', {});
    assert.equal(((await started.json()) as { type: string }).type, 'success');
    const [record] = await waitFor(
      'the backup row',
      async () => {
        const list = await platform.runtime.catalog.listBackups('bulk');
        return list.length > 0 ? list : undefined;
      },
      10_000,
    );
    const backupId = record!.id;

    const seen: LiveJob[] = [];
    let final: LiveJob | undefined;
    for await (const { event, data } of readEvents(stream.body!)) {
      if (event === 'jobs') seen.push(...(data as { jobs: LiveJob[] }).jobs.filter((j) => j.id === backupId));
      if (event === 'finished' && (data as LiveJob).id === backupId) {
        final = data as LiveJob;
        break;
      }
      if (Date.now() - startedAt > 240_000) break; // generous: a loaded two-core machine dumps slowly
    }
    abort.abort();
    await new Promise((r) => setTimeout(r, 500));
    const ticksAtAbort = ticks;
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(ticks, ticksAtAbort, 'no more progress queries after the client left');
    assert.ok(ticksAtAbort >= 3, `the stream polled about once a second while open (${ticksAtAbort} polls)`);
    const moving = seen.find((j) => ['dumping', 'copying'].includes(j.stage) && (j.bytes ?? 0) > 0);
    assert.ok(
      moving,
      `a progress event with bytes while dumping; saw ${JSON.stringify(seen.map((j) => [j.stage, j.bytes]))}`,
    );
    assert.equal(moving.kind, 'backup');
    assert.equal(moving.finished, false);
    assert.equal(
      moving.expectedBytes,
      null,
      'the first backup of a database has no previous size: an indeterminate bar',
    );
    assert.ok(final, 'a final event when the backup ended');
    assert.equal(final.stage, 'complete');
    assert.equal(final.finished, true);
    const done = await platform.runtime.catalog.getBackup(backupId);
    assert.equal(done.status, 'complete');
    assert.equal(final.bytes, done.dumpBytes, 'the final event carries the whole dump size');
    assert.ok(moving.bytes! < done.dumpBytes!, 'the running event came before the dump ended');
  });
  it('ends a progress stream once its session is logged out', async () => {
    const login = await fetch(`${web.url}/api/v1/session`, {
      method: 'POST',
      body: JSON.stringify(CONSOLE_OWNER),
      headers: { 'content-type': 'application/json' },
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    // Should the stream never end, this ends the test instead of hanging it.
    const stream = await fetch(`${web.url}/databases/shop/events`, {
      headers: { cookie },
      signal: AbortSignal.timeout(25_000),
    });
    assert.equal(stream.status, 200);
    const loggedOut = await fetch(`${web.url}/api/v1/session`, {
      method: 'DELETE',
      headers: { cookie, origin: web.url },
    });
    assert.equal(loggedOut.status, 200);
    const startedAt = Date.now();
    let ended: unknown;
    for await (const { event, data } of readEvents(stream.body!)) {
      if (event === 'ended') ended = data;
      assert.ok(Date.now() - startedAt < 20_000, 'the stream outlived its session by 20 s');
    }
    assert.deepEqual(ended, { reason: 'the session ended: log in again' }, 'the stream said why it ended, then closed');
  });

  it('cancels a running backup from its Cancel button (form action), and refuses a backup of another database', async () => {
    const release = await holdBulkDumps(platform);
    const started = await post('/databases/bulk?/backup', {});
    assert.equal(((await started.json()) as { type: string }).type, 'success');
    const running = await waitFor(
      'a running bulk backup',
      async () => (await platform.runtime.catalog.listBackups('bulk')).find((b) => b.status === 'running'),
      10_000,
    );
    await waitFor(
      'the dump to start',
      async () => {
        const p = await platform.client.workflow.getHandle(running.workflowId).query(backupProgressQuery);
        return p.stage === 'dumping' ? true : undefined;
      },
      30_000,
    );
    // The bar's length is the previous complete backup's dump size (the one the stream test took).
    const previous = (await platform.runtime.catalog.listBackups('bulk')).find((b) => b.status === 'complete')!;
    const owner = await web.services.access.actorForEmail('owner@example.org', 'test');
    const [job] = (await web.services.database.jobs(owner, 'bulk')).filter((j) => j.id === running.id);
    assert.equal(job?.expectedBytes, previous.dumpBytes);
    assert.ok(previous.dumpBytes! > 0);
    const html = await page('/databases/bulk');
    assert.match(
      html,
      new RegExp(`data-testid="progress-${running.id}" max="${previous.dumpBytes}"`),
      'the page renders the bar with that maximum',
    );
    const wrong = (await (await post('/databases/shop?/cancel', { backupId: running.id })).json()) as {
      type: string;
      data: string;
    };
    assert.equal(wrong.type, 'failure');
    assert.match(wrong.data, /belongs to database \\"bulk\\"/);
    const cancelled = (await (await post('/databases/bulk?/cancel', { backupId: running.id })).json()) as {
      type: string;
    };
    assert.equal(cancelled.type, 'success');
    await release();
    const outcome = (await platform.client.workflow.getHandle(running.workflowId).result()) as { status: string };
    assert.equal(outcome.status, 'cancelled');
    const record = await platform.runtime.catalog.getBackup(running.id);
    assert.equal(record.status, 'cancelled');
    assert.match(record.error ?? '', /cancelled from the console/);
  });

  settingsPageTests(() => ({ platform, web }));
});
