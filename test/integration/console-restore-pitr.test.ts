import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { recoverableWindows } from '../../lib/pitr/window.ts';
import { localDateTime } from '../../lib/time-zone.ts';
import { operatorActor } from '../../services/authz.ts';
import type { PitrOutcome } from '../../temporal/contracts/pitr.ts';
import { gotoHydrated, launchChromium, screenshot, watchPageErrors } from '../support/browser.ts';
import { CONSOLE_OWNER, settledRestorePage, startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import { tableHashes } from '../support/guide-platform.ts';
import { factsReadTheHold, heldDuring } from '../support/pitr-restore-hold.ts';
import { startTestCluster, type Platform } from '../support/platform.ts';
import {
  startPitrSource,
  startPitrWithRows,
  stopArchiver,
  stopPitrPlatform,
  waitUntilArchived,
  type PitrSource,
  type Row,
} from '../support/pitr-fixture.ts';
import { waitFor } from '../support/wait.ts';

const MB = 1024 * 1024;
const actor = operatorActor('test');
const walStatusOf = (platform: Platform, database: string) => platform.services.pitr.walStatus(actor, database);

/** The owner's session cookie, for browser contexts (a login page closed mid-load would cut off its assets). */
async function ownerSession(url: string): Promise<{ name: string; value: string; url: string }> {
  const login = await fetch(`${url}/api/v1/session`, {
    method: 'POST',
    body: JSON.stringify(CONSOLE_OWNER),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(login.status, 200, await login.text());
  const pair = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const at = pair.indexOf('=');
  return { name: pair.slice(0, at), value: pair.slice(at + 1), url };
}

/** The database page's PITR panel in a real browser: the window, settings saved and refused. */
async function checkPanel(platform: Platform, page: Page, url: string): Promise<void> {
  const before = (await recoverableWindows(platform.runtime.catalog, 'shop')).windows.at(-1)!;
  await gotoHydrated(page, `${url}/databases/shop`);
  const panel = page.getByTestId('pitr-panel');
  assert.equal(await panel.getAttribute('data-enabled'), 'true');
  const after = (await recoverableWindows(platform.runtime.catalog, 'shop')).windows.at(-1)!;
  const shown = page.getByTestId('pitr-window').last();
  assert.equal(await shown.getAttribute('data-from'), before.from.time, 'the window starts where the service says');
  const to = (await shown.getAttribute('data-to'))!;
  assert.ok(before.to.time <= to && to <= after.to.time, `the window ends at ${to}, as the service says`);
  const status = await walStatusOf(platform, 'shop');
  assert.match(await page.getByTestId('pitr-rpo').innerText(), /newest WAL in storage .+ old/);
  assert.match(await panel.innerText(), new RegExp(`${status.segments.complete} complete, \\d+ partial`));
  assert.match(await page.getByTestId('pitr-newest-point').innerText(), /newest restorable point .* ago/);

  const form = page.getByTestId('pitr-update-form');
  await form.locator('input[name="slotMaxMb"]').fill('512');
  await form.locator('input[name="baseSchedule"]').fill('15 3 * * *');
  await form.getByRole('button', { name: 'Save PITR settings' }).click();
  await page.getByTestId('pitr-done').waitFor();
  // Waited for: a refresh of the page's data begun before the save may land after the action's own.
  await page
    .getByTestId('pitr-base-schedule')
    .filter({ hasText: /^15 3 \* \* \*$/ })
    .waitFor();
  assert.equal(await page.getByTestId('pitr-next-run').count(), 3);
  const saved = await walStatusOf(platform, 'shop');
  assert.equal(saved.slotMaxBytes, 512 * MB);
  assert.equal(saved.baseBackupSchedule, '15 3 * * *');
  assert.match(await page.getByTestId('pitr-slot').innerText(), /of 512 MB limit/);
  const audited = (await platform.runtime.catalog.access.listAudit({ action: 'database.update' })).find(
    (e) => (e.after as { pitr?: { slotMaxMb?: number } } | null)?.pitr?.slotMaxMb === 512,
  );
  assert.deepEqual(
    [audited?.actor, (audited?.before as { pitr: { slotMaxMb: number | null } }).pitr.slotMaxMb],
    [CONSOLE_OWNER.email, null],
    'the change is audited with the settings before and after',
  );
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByTestId('pitr-panel').screenshot({ path: 'test-artifacts/console/pitr-panel.png' });

  await form.locator('input[name="baseSchedule"]').fill('30 2 31 2 *');
  assert.match(await page.getByTestId('pitr-cron-preview-error').innerText(), /day-of-month/);
  await form.getByRole('button', { name: 'Save PITR settings' }).click();
  assert.match(await page.getByTestId('pitr-error').innerText(), /Not saved: Base-backup schedule: .*day-of-month 31/);
  assert.equal((await walStatusOf(platform, 'shop')).baseBackupSchedule, '15 3 * * *', 'nothing was saved');
}

/** Without JavaScript, on a database without PITR: a refused schedule, then switched on with a slot limit that drops the slot. */
async function switchOnWithoutJavaScript(platform: Platform, page: Page, url: string): Promise<void> {
  // Settled before each click: a form post that cuts off the page's asset preloads makes the server log aborted pipes.
  await page.goto(`${url}/databases/depot`, { waitUntil: 'networkidle' });
  assert.equal(await page.getByTestId('pitr-panel').getAttribute('data-enabled'), 'false');
  await page.getByTestId('pitr-panel').screenshot({ path: 'test-artifacts/console/pitr-off.png' });
  const form = page.getByTestId('pitr-enable-form');
  assert.equal(await form.locator('input[name="baseSchedule"]').inputValue(), '0 2 * * *', 'defaults prefilled');
  assert.equal(await form.locator('input[name="partialIntervalSeconds"]').inputValue(), '1');
  await form.locator('input[name="baseSchedule"]').fill('30 2 31 2 *');
  await form.getByRole('button', { name: 'Switch PITR on' }).click();
  await page.waitForURL((u) => u.pathname === '/databases/depot/pitr', { waitUntil: 'networkidle' });
  assert.match(await page.getByTestId('pitr-error').innerText(), /day-of-month 31/);
  await screenshot(page, 'pitr-refused');
  assert.equal((await walStatusOf(platform, 'depot')).enabled, false);

  const again = page.getByTestId('pitr-enable-form');
  assert.equal(await again.locator('input[name="baseSchedule"]').inputValue(), '30 2 31 2 *', 'what was typed stays');
  await again.locator('input[name="baseSchedule"]').fill('0 4 * * *');
  await again.locator('input[name="slotMaxMb"]').fill('256');
  assert.equal(await again.locator('select[name="slotOverLimit"]').inputValue(), 'alert', 'alert only by default');
  await again.locator('select[name="slotOverLimit"]').selectOption('drop');
  await again.getByRole('button', { name: 'Switch PITR on' }).click();
  await page.waitForURL((u) => u.pathname === '/databases/depot' && u.searchParams.get('pitr') === 'on', {
    waitUntil: 'networkidle',
  });
  assert.equal(await page.getByTestId('pitr-panel').getAttribute('data-enabled'), 'true');
  assert.match(await page.getByTestId('pitr-done').innerText(), /Point-in-time recovery is on/);
  const status = await walStatusOf(platform, 'depot');
  assert.deepEqual(
    [status.enabled, status.slotMaxBytes, status.baseBackupSchedule, status.slotOverLimit, status.synchronous],
    [true, 256 * MB, '0 4 * * *', 'drop', false],
  );
}

/** The dashboard: a badge on each PITR card; a database with base backups only is not "never backed up". */
async function checkDashboard(platform: Platform, page: Page, url: string): Promise<void> {
  await waitFor(
    "depot's first base backup",
    async () => (await platform.runtime.catalog.wal.baseBackupsOf('depot', { status: 'complete' })).length || undefined,
    60_000,
    300,
  );
  await gotoHydrated(page, `${url}/`);
  const badge = page.getByTestId('pitr-badge-shop');
  assert.match((await badge.innerText()).trim(), /^PITR · restorable to (now|.+ ago)$/);
  assert.equal(await badge.getAttribute('data-state'), 'ok');
  assert.ok(await page.getByTestId('pitr-badge-depot').isVisible());
  assert.match(await page.getByTestId('pitr-only-depot').innerText(), /protects this database. Newest base backup: /);
  assert.equal(await page.getByTestId('backup-age-depot').count(), 0, 'no "never" for a PITR-only database');
  assert.doesNotMatch(await page.locator('.summary').innerText(), /never backed up/);
  await screenshot(page, 'pitr-dashboard');
}

/** A base backup taken from the panel; then switched off with its typed confirmation: the panel says off, and so does the service. */
async function baseBackupThenOff(platform: Platform, page: Page, url: string): Promise<void> {
  await gotoHydrated(page, `${url}/databases/shop`);
  await page.getByRole('button', { name: 'Take a base backup now' }).click();
  const id = /Base backup (\S+) started/.exec(await page.getByTestId('pitr-done').innerText())?.[1];
  assert.ok(id, 'the panel names the base backup it started');
  await waitFor(
    `base backup ${id} complete`,
    async () =>
      (await platform.runtime.catalog.wal.baseBackupsOf('shop', { status: 'complete' })).some((b) => b.id === id) ||
      undefined,
    60_000,
    300,
  );
  await page.getByTestId('pitr-off').locator('summary').click();
  await page.getByTestId('pitr-off').getByLabel('to confirm').fill('shop');
  await page.getByRole('button', { name: 'Switch PITR off' }).click();
  await page.locator('[data-testid="pitr-panel"][data-enabled="false"]').waitFor({ timeout: 70_000 });
  assert.match(await page.getByTestId('pitr-done').innerText(), /archived WAL and base backups stay in storage/);
  assert.equal((await walStatusOf(platform, 'shop')).enabled, false);
}

/** A minute after `iso`, as the time picker writes it: after the bar's end and after the check's own moment. */
const laterThan = (iso: string): string => new Date(Date.parse(iso) + 60_000).toISOString().slice(0, 19);

/**
 * Into another server, as a browser without JavaScript posts it, at the end of the wizard's bar: the
 * target's tables equal the source's at T; a time after the bar's end is refused.
 */
async function restoreIntoAnotherServer(platform: Platform, con: SignedInConsole, source: PitrSource): Promise<void> {
  const other = await startTestCluster(path.join(platform.dir, 'other'));
  try {
    const atT = await tableHashes(source.target);
    await waitUntilArchived(platform, source);
    // The bar's end, to the second the time picker takes, is a moment the check accepts at once.
    const bar = /data-testid="pitr-wizard-window" data-from="[^"]+" data-to="([^"]+)" data-exact="(\w+)"/g;
    const [, barEnd, exact] = [...(await con.page('/restore?database=shop&tz=UTC')).matchAll(bar)].at(-1)!;
    assert.equal(exact, 'true', 'the archive holds everything the server wrote: the end is exact');
    const time = barEnd!.slice(0, 19);
    await source.query(`insert into events (at, note) values (clock_timestamp(), 'after T')`);
    const later = { database: 'shop', source: 'pitr', time: laterThan(barEnd!), tz: 'UTC' };
    assert.match(await con.page(`/restore?${new URLSearchParams(later)}`), /is outside every recoverable window/);
    const choice = { database: 'shop', source: 'pitr', time, tz: 'UTC', to: 'url' };
    const step4 = await con.page(`/restore?${new URLSearchParams(choice)}`);
    assert.match(step4, /4\. Confirm/);
    assert.match(step4, /name="password"/);
    assert.match(step4, /data-testid="restore-privileged-roles"/, 'the instance owner may restore privileged roles');
    const target = other.target('shop_at_t');
    const { password, ...withoutPassword } = target;
    const form = { ...choice, url: targetUrl(withoutPassword), password: password!, withOwners: 'on' };
    // The choices ride in the action's query string, so that a refused start shows step 4 again.
    const startAction = /<form method="POST" action="(\?[^"]*&amp;\/start)"/.exec(step4)![1]!.replaceAll('&amp;', '&');
    // Posted as a browser without JavaScript does: a plain form, answered by a page or a redirect.
    const post = (fields: Record<string, string>) =>
      con.fetch(`${con.url}/restore${startAction}`, {
        method: 'POST',
        body: new URLSearchParams(fields),
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: con.url, accept: 'text/html' },
        redirect: 'manual',
      });
    const refused = await post({ ...form, confirm: 'shpo' });
    const refusedHtml = await refused.text();
    assert.equal(refused.status, 400);
    assert.match(refusedHtml, /data-testid="restore-error"[^>]*>confirmation: type .+ exactly to start the restore/);
    assert.ok(!refusedHtml.includes(password!), 'the password is not echoed back');

    const { result: html, held } = await heldDuring(platform, async () => {
      const started = await post({ ...form, confirm: 'shop' });
      assert.equal(started.status, 303, await started.text());
      return settledRestorePage(con, started.headers.get('location')!, 90_000, 700);
    });
    assert.match(html, /data-state="completed"/, html.slice(html.indexOf('<main'), html.indexOf('<main') + 1500));
    assert.ok(!html.includes(password!), 'the password is not on the result page');
    const base = (await platform.runtime.catalog.wal.baseBackupsOf('shop', { status: 'complete' }))[0]!;
    assert.ok(held.has(base.id), `the restore held base backup ${base.id} while it ran (held: ${[...held]})`);
    assert.match(html, /data-testid="pitr-extraction"/);
    const tables = Object.keys(atT).length;
    const rows = Object.values(atT).reduce((sum, t) => sum + t.rows, 0);
    assert.match(html, new RegExp(`data-testid="extraction-tables"[^>]*>${tables}<`));
    assert.match(html, new RegExp(`data-testid="extraction-rows"[^>]*>${rows.toLocaleString('en')}<`));
    assert.match(html, /data-testid="extraction-duration"[^>]*>\d+\.\d s</);
    assert.deepEqual(await tableHashes(target), atT, 'every table as it was at T');
    await factsReadTheHold(platform, base.id);
  } finally {
    await other.stop('immediate').catch(() => undefined);
  }
}

/** The window as a bar, a moment outside it refused, then the latest moment restored into a sandbox. */
async function sandboxRestore(platform: Platform, con: SignedInConsole, rows: Row[]): Promise<void> {
  const step2 = await con.page('/restore?database=shop&tz=Europe/Paris');
  assert.match(step2, /data-testid="pitr-timeline"/);
  const window = (await platform.runtime.catalog.wal.baseBackupsOf('shop', { status: 'complete' }))[0]!;
  assert.ok(
    step2.includes(window.stopTime!.toISOString().slice(0, 16).replace('T', ' ')),
    "the window starts at the base backup's end",
  );
  assert.match(step2, /Europe\/Paris/);

  // A moment before the base backup ended lies outside every window: step 2 again, saying so.
  const early = localDateTime(new Date(window.stopTime!.getTime() - 3_600_000), 'Europe/Paris');
  const refused = await con.page(
    `/restore?database=shop&source=pitr&time=${encodeURIComponent(early)}&tz=Europe%2FParis`,
  );
  assert.match(refused, /is outside every recoverable window/);
  assert.doesNotMatch(refused, /3\. Where to restore/);

  // A moment inside the window moves on to the target.
  const inside = localDateTime(rows[Math.floor(rows.length / 2)]!.at, 'Europe/Paris');
  const step3 = await con.page(
    `/restore?database=shop&source=pitr&time=${encodeURIComponent(inside)}&tz=Europe%2FParis`,
  );
  assert.match(step3, /3\. Where to restore/);
  assert.match(step3, /\+0[12]:00 \(Europe\/Paris\)/);

  const started = await con.action('/restore?/start', {
    database: 'shop',
    source: 'latest',
    to: 'sandbox',
    confirm: 'shop',
  });
  assert.equal(started.type, 'redirect', started.data);
  const html = await settledRestorePage(con, started.location!, 90_000, 700);
  assert.match(html, /data-state="completed"/, html.slice(html.indexOf('<main'), html.indexOf('<main') + 1500));
  assert.match(html, /Recovered and promoted/);
  assert.match(html, /data-verified="true"/);
  assert.match(html, /sandbox \(checked and removed\)/);
  const workflowId = started
    .location!.replace(/^\/restores\//, '')
    .split('/')
    .map(decodeURIComponent)
    .join('/');
  const outcome = (await platform.client.workflow.getHandle(workflowId).result()) as PitrOutcome;
  assert.ok(html.includes(outcome.reachedLsn), 'the page shows the LSN recovery reached');
  assert.equal(outcome.kept, false);
  assert.match(html, /data-testid="pitr-figures"/);
  assert.match(html, /Usable after[\s\S]*WAL replayed per second/);
  const api = JSON.parse(await con.page(`/api/v1/restores/${encodeURIComponent(workflowId)}`)) as PitrOutcome;
  const { figures } = outcome;
  assert.ok(figures && figures.walBytesReplayed! > 0, 'the restore measured the WAL it replayed');
  assert.deepEqual(api.figures, figures, '/api/v1 gives the figures the restore measured');
  assert.ok(
    html.includes(`${(figures.usableAfterMs / 1000).toFixed(1)} s`),
    'the page shows the time to a usable server',
  );
  assert.deepEqual(
    (await readdir(platform.config.sandboxRoot)).filter((d) => d.startsWith('pitr-')),
    [],
    'the sandbox is gone',
  );
}

/** Into a directory, its server stopped when asked: the page and /api/v1 say how to start it again. */
async function directoryRestoreThenStop(
  platform: Platform,
  con: SignedInConsole,
  source: PitrSource,
  restoredDirs: string[],
): Promise<void> {
  const dir = path.join(platform.dir, 'console-then-stop');
  restoredDirs.push(dir);
  const started = await con.action('/restore?/start', {
    database: 'shop',
    source: 'latest',
    to: 'directory',
    directory: dir,
    thenStop: 'on',
    confirm: 'shop',
  });
  assert.equal(started.type, 'redirect', started.data);
  const html = await settledRestorePage(con, started.location!, 90_000, 700);
  assert.match(html, /data-state="completed"/, html.slice(html.indexOf('<main'), html.indexOf('<main') + 1500));
  assert.match(html, /data-testid="pitr-instructions"/);
  assert.match(html, /Stopped; listens on/);
  assert.match(html, /Start again/);
  assert.doesNotMatch(html, /<dt>Stop<\/dt>/);
  const workflowId = started
    .location!.replace(/^\/restores\//, '')
    .split('/')
    .map(decodeURIComponent)
    .join('/');
  const api = JSON.parse(await con.page(`/api/v1/restores/${encodeURIComponent(workflowId)}`)) as {
    instructions: { running: boolean; start: string; listening: { port: number; dataDirectory: string } };
  };
  assert.equal(api.instructions.running, false);
  assert.equal(api.instructions.listening.dataDirectory, dir);
  assert.ok(html.includes(api.instructions.start), 'the page shows the start command /api/v1 gives');
  const outcome = (await platform.client.workflow.getHandle(workflowId).result()) as PitrOutcome;
  assert.equal(outcome.kept, true);
  const probe = connect('probe', { ...source.target, host: '127.0.0.1', port: outcome.port!, sslmode: 'disable' });
  await assert.rejects(probe, 'no server listens on the restored port');
}

describe('console: the restore wizard on a database with point-in-time recovery', () => {
  let platform: Platform;
  let con: SignedInConsole;
  let source: PitrSource;
  let rows: Row[] = [];
  const restoredDirs: string[] = [];
  let depot: PitrSource | undefined;
  let browser: Browser | undefined;
  let contexts: BrowserContext[] = [];

  before(async () => {
    ({ platform, source, rows } = await startPitrWithRows('shop', { forMs: 3000, everyMs: 100 }));
    con = await startSignedInConsole(platform);
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await con?.close();
    if (depot) {
      await stopArchiver(platform, 'depot');
      for (const id of ['walchain/depot', 'walchain/shop'])
        await platform.client.workflow
          .getHandle(id)
          .terminate('test over')
          .catch(() => undefined);
      await depot.cluster.stop('immediate').catch(() => undefined);
    }
    await stopPitrPlatform({ platform, source, database: 'shop', restoredDirs });
  });

  it('shows the recoverable window as a bar, refuses a moment outside it, and restores to the latest moment into a sandbox', () =>
    sandboxRestore(platform, con, rows));

  it('restores into a directory and stops the server when asked: the page and /api/v1 say how to start it again', () =>
    directoryRestoreThenStop(platform, con, source, restoredDirs));

  it('restores one database at a moment into another server without JavaScript, holding its base backups meanwhile', () =>
    restoreIntoAnotherServer(platform, con, source));

  it('the PITR panel and the dashboard, in a real browser: window, settings, switching on without JavaScript and off', async () => {
    // A second server (WAL is per cluster) whose database has no PITR yet.
    depot = await startPitrSource(platform, 'depot', 'depot-source');
    await platform.ops.addDatabase({ name: 'depot', url: targetUrl(depot.target), verifyAfterBackup: false });
    browser = await launchChromium();
    const withJs = await browser.newContext();
    const withoutJs = await browser.newContext({ javaScriptEnabled: false });
    contexts = [withJs, withoutJs];
    const session = await ownerSession(con.url);
    for (const context of contexts) await context.addCookies([session]);
    const page = await withJs.newPage();
    const errors = watchPageErrors(page);
    await checkPanel(platform, page, con.url);
    await switchOnWithoutJavaScript(platform, await withoutJs.newPage(), con.url);
    await checkDashboard(platform, page, con.url);
    await baseBackupThenOff(platform, page, con.url);
    assert.deepEqual(errors(), []);
  });
});
