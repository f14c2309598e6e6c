/**
 * The console driven by a real browser (Debian's chromium through playwright-core) against the
 * built SvelteKit app, a real Temporal dev server, a real worker and real PostgreSQL servers: the
 * path a new operator takes, from creating the owner to restoring a backup and reading the audit
 * log, and editing and removing storages and notifiers. Screenshots of every main page are written
 * to test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { operatorActor } from '../../services/authz.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { gotoHydrated, launchChromium, screenshot, shown, watchPageErrors } from '../support/browser.ts';
import { widerThanAPhone } from '../support/console-phone.ts';
import { storageAndNotifierEdits } from '../support/console-config-edits.ts';
import { checkCopyForms, checkDownloads } from '../support/console-backup-copies.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { startLoading } from '../support/loading.ts';
import { freePort } from '../support/ports.ts';

const OWNER = { email: 'ops@example.org', name: 'Ops Owner', password: 'a long enough passphrase' };

/** 2,000 customers and a million orders: the backup runs long enough for its progress bar to be seen. */
const SHOP_SQL = `
  create table customers (id int primary key, name text, email text);
  insert into customers select g, 'customer ' || g, 'c' || g || '@example.org' from generate_series(1, 2000) g;
  create table orders (id bigint primary key, customer_id int references customers, total numeric(10,2), placed_at timestamptz, note text);
  insert into orders select g, 1 + g % 2000, (g % 977) / 7.0, now() - g * interval '1 second', md5(g::text) || ' ' || md5((g * 7)::text)
    from generate_series(1, 1000000) g;`;

describe('the console in a real browser', () => {
  let platform: Platform;
  let services: HostServices;
  let server: WebServer;
  let source: PgTarget;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let nasDir: string;
  let backupId: string;
  let consoleErrors: () => string[] = () => [];

  before(async () => {
    platform = await startPlatform();
    source = await createDatabase(platform.cluster, 'shop');
    nasDir = path.join(platform.dir, 'nas');
    await mkdir(nasDir, { recursive: true });
    services = createConsoleServices(platform.services);
    const port = await freePort();
    // The table fills while the worker, the console and the browser start; each is kept as it comes up, so that
    // `after` closes whatever started when another part failed.
    const { loaded } = await startLoading('shop', source, SHOP_SQL);
    const ready = await Promise.allSettled([
      loaded,
      platform.startWorker(),
      startWebServer({ services, host: '127.0.0.1', port, log: () => undefined }).then((started) => {
        server = started;
      }),
      launchChromium().then((started) => {
        browser = started;
      }),
    ]);
    for (const r of ready) if (r.status === 'rejected') throw r.reason;
    context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      timezoneId: 'Europe/Berlin',
      colorScheme: 'light',
    });
    page = await context.newPage();
    consoleErrors = watchPageErrors(page);
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await platform?.stop();
  });

  const at = (route: string) => `${server.url}${route}`;
  const pathOf = () => new URL(page.url()).pathname;

  it('sends a fresh installation to owner creation, and the owner lands on the overview', async () => {
    await gotoHydrated(page, at('/'));
    assert.equal(pathOf(), '/setup');
    await screenshot(page, '01-setup');
    await page.getByLabel('Setup token').fill((await services.auth.issueSetupToken())!); // as printed at start
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Name').fill(OWNER.name);
    await page.getByLabel('Password (10 characters or more)').fill(OWNER.password);
    await page.getByLabel('Password again').fill(OWNER.password);
    await page.getByRole('button', { name: 'Create owner and log in' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    assert.equal(
      await page.getByRole('button', { name: 'Log out' }).getAttribute('title'),
      `Log out ${OWNER.email}`,
      'signed in as the new owner',
    );
  });

  it('logs out, refuses a wrong password, and logs in', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL((url) => url.pathname === '/login');
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(pathOf(), '/login');
    await screenshot(page, '02-login-refused');
    await page.getByLabel('Password').fill(OWNER.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL((url) => url.pathname === '/');
  });

  it('switches between dark and light, and keeps the choice across a reload', async () => {
    const background = () => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    const light = await background();
    const themeButton = page.locator('button.theme');
    await themeButton.click(); // system → dark
    await page.waitForSelector('html[data-theme="dark"]', { state: 'attached' });
    const dark = await background();
    assert.notEqual(dark, light, 'the dark theme changes the page background');
    await page.reload();
    assert.equal(
      await page.evaluate<string | undefined>('document.documentElement.dataset.theme'),
      'dark',
      'the choice survives a reload (rendered by the server)',
    );
    assert.equal(await background(), dark);
    await screenshot(page, '03-overview-dark');
    await themeButton.click(); // dark → light
    await page.waitForSelector('html[data-theme="light"]', { state: 'attached' });
    assert.equal(await background(), light);
  });

  it('is reached by keyboard: the first Tab lands on the skip link, which moves to the content', async () => {
    await gotoHydrated(page, at('/'));
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate<string | undefined>('document.activeElement?.textContent?.trim()'),
      'Skip to content',
    );
    await page.keyboard.press('Enter');
    assert.equal(new URL(page.url()).hash, '#main');
  });

  it('adds a storage after testing its connection', async () => {
    await gotoHydrated(page, at('/storages'));
    await page.getByLabel('Name', { exact: true }).fill('nas');
    await page.getByLabel('Type').selectOption('local');
    await page.getByLabel('Path').fill(nasDir);
    await page.getByRole('button', { name: 'Test before saving' }).click();
    const result = page.getByTestId('storage-add-result');
    await result.waitFor();
    assert.match(await result.innerText(), /^Connection test passed in \d+ ms/);
    await page.getByRole('button', { name: 'Save storage' }).click();
    await shown(page, page.getByTestId('storages').getByText('nas', { exact: true }), 'the saved storage');
    await screenshot(page, '04-storages');
    assert.ok(
      (await services.domain.storages.list(operatorActor('test'))).some((st) => st.name === 'nas'),
      'the storage is in the catalog',
    );
  });

  it('tests a database connection, refuses a wrong password, and adds the database', async () => {
    await gotoHydrated(page, at('/databases/new'));
    await page.getByLabel('Name', { exact: true }).fill('shop');
    const wrong = new URL(targetUrl(source));
    wrong.password = 'not-the-password';
    await page.getByLabel('Connection URL').fill(wrong.toString());
    await page.getByRole('button', { name: 'Test connection' }).click();
    const result = page.getByTestId('db-test-result');
    await result.waitFor();
    assert.match(await result.innerText(), /password authentication failed/);
    await page.getByLabel('Connection URL').fill(targetUrl(source));
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page
      .getByTestId('db-test-result')
      .filter({ hasText: /Connected in \d+ ms: PostgreSQL 15/ })
      .waitFor();
    for (const box of await page.locator('input[name="storages"]').all())
      await box.setChecked((await box.getAttribute('value')) === 'nas');
    await page.getByLabel('Schedule (cron, blank for none)').fill('');
    await screenshot(page, '05-add-database');
    await page.getByRole('button', { name: 'Save database' }).click();
    await page.waitForURL((url) => url.pathname === '/databases/shop');
    assert.match(await page.getByTestId('connection').innerText(), /shop/);
    assert.doesNotMatch(
      await page.content(),
      new RegExp(source.password ?? 'no password set'),
      'the password is never rendered',
    );
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page
      .getByTestId('db-test-result')
      .filter({ hasText: /Connected in \d+ ms: PostgreSQL 15/ })
      .waitFor();
  });

  it('runs a backup and shows its progress bar until it completes', async () => {
    await page.getByRole('button', { name: 'Back up now' }).click();
    const samples: { stage: string; text: string }[] = [];
    const deadline = Date.now() + 120_000;
    const firstRow = page.getByTestId('backup-row').first();
    for (;;) {
      const bar = page.getByTestId('live-jobs').locator('li[data-testid^="job-"]').first();
      if (await bar.count()) {
        const stage = await bar
          .getByTestId('job-stage')
          .innerText()
          .catch(() => '');
        const text = await bar
          .locator('progress')
          .getAttribute('aria-label')
          .catch(() => null);
        if (text) samples.push({ stage, text });
        if (samples.length === 1) await screenshot(page, '06-database-backup-running');
      }
      const status = (await firstRow.count()) ? await firstRow.locator('td').first().innerText() : '';
      if (/complete/i.test(status)) break;
      assert.ok(Date.now() < deadline, `the backup did not complete in 2 minutes; last status "${status}"`);
      await page.waitForTimeout(150);
    }
    // The dump reports its bytes every two seconds; a one-million-row table takes longer than that.
    assert.ok(
      samples.some((s) => s.stage === 'dumping' && /[1-9][\d.]* [kMG]?B dumped/.test(s.text)),
      `a progress bar showed the dump under way: ${JSON.stringify(samples.slice(-5))}`,
    );
    // The verification that follows the backup is a live job too; on a busy machine it outlasts 30 s.
    await page.getByTestId('live-jobs').getByText('Nothing is running.').waitFor({ timeout: 120_000 });
    const backups = await platform.runtime.catalog.listBackups('shop', 10);
    assert.equal(backups.length, 1);
    assert.equal(backups[0]!.status, 'complete');
    assert.match(await firstRow.innerText(), new RegExp(backups[0]!.id));
    backupId = backups[0]!.id;
  });

  it('links the backup to its verification report with per-table counts', async () => {
    const badge = page.getByTestId('backup-row').first().locator('a.badge');
    const deadline = Date.now() + 120_000;
    while (!/verified|successful/i.test((await badge.innerText().catch(() => '')) ?? '')) {
      assert.ok(Date.now() < deadline, 'no successful verification within 2 minutes');
      await page.waitForTimeout(1000);
      await page.reload();
    }
    await screenshot(page, '07-database');
    await badge.click();
    await page.waitForURL((url) => url.pathname.startsWith('/verifications/'));
    assert.equal(await page.getByTestId('verification-status').innerText(), 'successful');
    const counts = await page.getByTestId('table-count').allInnerTexts();
    const orders = counts.find((row) => row.includes('orders'));
    // A million rows are over the checksum's whole-table limit: sampled by primary key.
    assert.ok(
      orders && /1,000,000\s+1,000,000\s+sampled: same\s+match/.test(orders),
      `orders expected and restored: ${orders}`,
    );
    await screenshot(page, '08-verification-report');
  });

  it("changes the schedule and lists the next five runs in the browser's time zone", async () => {
    await gotoHydrated(page, at('/databases/shop'));
    const schedule = page.getByTestId('schedule');
    await schedule.getByLabel('Cron (minute hour day month weekday)').fill('30 2 * * 1-5');
    await schedule.getByLabel('Time zone').fill('Europe/Berlin');
    await page.getByTestId('cron-preview').locator('li').nth(4).waitFor();
    await schedule.getByRole('button', { name: 'Save schedule' }).click();
    await schedule.getByRole('status').filter({ hasText: 'Schedule saved' }).waitFor();
    const runs = await page
      .getByTestId('next-run')
      .locator('time')
      .evaluateAll((els) => els.map((e) => e.getAttribute('datetime') ?? ''));
    assert.equal(runs.length, 5);
    for (const iso of runs) {
      const local = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(new Date(iso));
      assert.match(local, /^(Mon|Tue|Wed|Thu|Fri) 02:30$/, `${iso} is 02:30 on a weekday in Berlin (${local})`);
    }
    const saved = await platform.runtime.catalog.getDatabase('shop');
    assert.equal(saved.schedule, '30 2 * * 1-5');
    assert.equal(saved.timezone, 'Europe/Berlin');
  });

  it('restores the backup into a new database through the wizard, and shows it verified', async () => {
    await gotoHydrated(page, at('/restore?database=shop'));
    await page.locator(`input[name="backup"][value="${backupId}"]`).check();
    await page.getByRole('button', { name: 'Next' }).last().click();
    await page.getByLabel('New database name').fill('shop_restored');
    await page.getByRole('button', { name: 'Next' }).last().click();
    const start = page.getByRole('button', { name: 'Start restore' });
    await page.getByLabel('Type shop to confirm').fill('shp');
    assert.equal(await start.isDisabled(), true, 'a mistyped name keeps the button disabled');
    await page.getByLabel('Type shop to confirm').fill('shop');
    await screenshot(page, '11-restore-confirm');
    await start.click();
    await page.waitForURL((url) => url.pathname.startsWith('/restores/'));
    await page.getByTestId('restore-verification').waitFor({ timeout: 120_000 });
    assert.match(await page.getByTestId('restore-verification').innerText(), /Every table's row count in/);
    await screenshot(page, '12-restore-verified');
    const restored = await connect('restored', { ...source, database: 'shop_restored' });
    const original = await connect('source', source);
    try {
      for (const table of ['customers', 'orders']) {
        const sql = `select count(*)::int as n, md5(string_agg(t::text, ',' order by id)) as h from ${table} t`;
        const [a, b] = await Promise.all([original.query(sql), restored.query(sql)]);
        assert.deepEqual(b.rows[0], a.rows[0], `${table} restored identically`);
      }
    } finally {
      await Promise.all([restored.end(), original.end()]);
    }
  });

  it('downloads the backup from its row, decrypted and as stored, and copies it into a second storage', async () => {
    await checkDownloads(page, server.url, platform, backupId);
    await checkCopyForms(context, page, server.url, platform, services, backupId);
  });

  it("lists the owner's actions in the audit log, filterable by action", async () => {
    await gotoHydrated(page, at('/audit'));
    const rows = page.locator('table.audit tbody tr');
    await rows.first().waitFor();
    const text = await page.locator('table.audit tbody').innerText();
    assert.match(text, /auth\.login/, 'the log-ins are in the audit log');
    for (const action of ['storage', 'database', 'backup', 'restore'])
      assert.match(text, new RegExp(`\\b${action}\\.`), `a ${action} action is in the audit log`);
    await page.getByLabel('Action').fill('auth');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((url) => url.searchParams.get('action') === 'auth');
    const filtered = await page.locator('table.audit tbody tr td:nth-child(5)').allInnerTexts();
    assert.ok(
      filtered.length >= 3 && filtered.every((a) => a.startsWith('auth.')),
      `only auth.* actions: ${filtered.join(', ')}`,
    );
    const outcomes = await page.locator('table.audit tbody tr td:nth-child(7)').allInnerTexts();
    assert.ok(
      outcomes.includes('denied') || outcomes.includes('failed'),
      `the refused log-in is recorded: ${outcomes.join(', ')}`,
    );
    await screenshot(page, '09-audit');
  });

  // Editing and removing storages and notifiers: "nas" holds the backup above and "shop" uses it.
  storageAndNotifierEdits(() => ({ page, platform, url: server.url }));

  it('renders every other page without an error, for the screenshots', async () => {
    const pages: [string, string][] = [
      ['/', '13-overview'],
      ['/notifiers', '14-notifiers'],
      ['/hooks/shop', '15-hooks'],
      ['/users', '16-users'],
      ['/workspaces', '17-workspaces'],
      ['/settings', '18-settings'],
    ];
    for (const [route, name] of pages) {
      const response = await gotoHydrated(page, at(route));
      assert.equal(response?.status(), 200, `${route} answers 200`);
      await screenshot(page, name);
    }
    await gotoHydrated(page, at('/'));
    const card = page.getByTestId('database-card-shop');
    assert.match(await card.innerText(), /Up/i, 'the dashboard shows the database up');
  });

  it('is readable on a phone: no page scrolls sideways at 390 px', async () => {
    assert.deepEqual(await widerThanAPhone(context, at), [], 'pages wider than a phone');
  });

  it('logged no script errors in the browser', () => {
    assert.deepEqual(consoleErrors(), []);
  });
});
