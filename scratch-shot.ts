import { chromium } from 'playwright-core';
import { connect, targetUrl } from './lib/pg/connection.ts';
import { startSignedInConsole, CONSOLE_OWNER } from './test/support/console.ts';
import { createDatabase, startPlatform } from './test/support/platform.ts';

const platform = await startPlatform();
try {
  const shop = await createDatabase(platform.cluster, 'shop');
  const c = await connect('shop', shop);
  await c.query(`create table items (id int primary key, name text); insert into items select g, md5(g::text) from generate_series(1, 3000) g;
    create table readings (id bigint primary key, note text); insert into readings select g, md5(g::text) || md5((g*3)::text) from generate_series(1, 900000) g;`);
  await c.end();
  await platform.startWorker();
  await platform.ops.addDatabase({ name: 'shop', url: targetUrl(shop), schedule: '0 3 * * *', timezone: 'Europe/Paris' });
  for (let i = 0; i < 3; i++) await (await platform.ops.startBackup('shop')).result();
  const list = await platform.runtime.catalog.listBackups('shop');
  for (const [i, b] of list.entries()) {
    const at = new Date(Date.now() - (i + 1) * 86400000);
    await platform.runtime.catalog.pool.query(`update backups set started_at = $2::timestamptz, finished_at = $2::timestamptz + ($3 || ' seconds')::interval where id = $1`, [b.id, at, String(5 + i * 2)]);
  }
  const pool = platform.runtime.catalog.pool;
  await pool.query(`insert into health_events (database_id, status, detail, at) select id, 'up', null, now() - interval '3 days' from databases where name='shop'`);
  await pool.query(`insert into health_events (database_id, status, detail, at) select id, 'down', 'connection refused', now() - interval '5 hours' from databases where name='shop'`);
  await pool.query(`insert into health_events (database_id, status, detail, at) select id, 'up', null, now() - interval '4 hours' from databases where name='shop'`);
  const web = await startSignedInConsole(platform);
  const login = await fetch(`${web.url}/api/v1/session`, { method: 'POST', body: JSON.stringify(CONSOLE_OWNER), headers: { 'content-type': 'application/json' } });
  const token = (login.headers.get('set-cookie') ?? '').split(';')[0]!.split('=')[1]!;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const verifications = await platform.ops.listVerifications('shop');
  for (const [w, theme] of [[390, 'dark']] as const) {
    const ctx = await browser.newContext({ viewport: { width: w, height: 900 } });
    await ctx.addCookies([{ name: 'hindsight_session', value: token, url: web.url }, { name: 'hindsight_theme', value: theme, url: web.url }]);
    const page = await ctx.newPage();
    page.on('console', (m) => { if (m.type() === 'error') console.log('console error', m.text()); });
    page.on('pageerror', (e) => console.log('page error', e.message));
    await platform.ops.startBackup('shop');
    await page.goto(`${web.url}/databases/shop`);
    await page.waitForSelector('[data-testid^="progress-"]', { timeout: 20000 });
    await page.waitForTimeout(2500);
    console.log(w, 'scrollWidth', await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]));
    console.log(await page.evaluate(() => [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 15).map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`).join('\n')));
    console.log(await page.evaluate(() => getComputedStyle(document.querySelector('h1')!).fontSize));
    await page.goto(`${web.url}/`);
    console.log(w, 'overview scrollWidth', await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]));
    await page.goto(`${web.url}/databases/shop`);
    await page.screenshot({ path: `/tmp/db-${w}.png`, fullPage: true });
    await page.fill('input[name="cron"]', '*/30 9-17 * * 1-5');
    await page.waitForTimeout(300);
    await page.screenshot({ path: `/tmp/db-${w}-cron.png`, fullPage: false, clip: undefined });
    const sched = await page.locator('[data-testid="schedule"]').screenshot({ path: `/tmp/db-${w}-sched.png` });
    void sched;
    await page.click('text=Preview');
    await page.waitForSelector('[data-testid="retention-plan"]');
    await page.locator('[data-testid="retention"]').screenshot({ path: `/tmp/db-${w}-ret.png` });
    // wait for the backup to finish: the page should reload by itself
    await page.waitForFunction(() => !document.querySelector('[data-testid^="progress-"]'), undefined, { timeout: 60000 });
    console.log(w, 'rows after finish', await page.locator('[data-testid="backup-row"]').count());
    if (verifications[0]) {
      await page.goto(`${web.url}/verifications/${verifications[0].id}`);
      console.log(w, 'verif scrollWidth', await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]));
      await page.screenshot({ path: `/tmp/ver-${w}.png`, fullPage: true });
    }
    await ctx.close();
  }
  await browser.close();
  await web.close();
} finally {
  await platform.stop();
}
