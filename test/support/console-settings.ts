/**
 * The settings-page scenario of the console database test, in real chromium: `ledger` belongs to
 * its own login role, so that changing that role's password on the test server touches nothing
 * else; it has one backup taken under the old password, and a second local storage waits.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { connect, targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { horizontalOverflow, launchChromium, screenshot, watchPageErrors } from './browser.ts';
import { CONSOLE_OWNER, type SignedInConsole } from './console.ts';
import { removeDeletingBackups, renameInTheConsole } from './console-settings-journal.ts';
import { tableFingerprint, type Platform } from './platform.ts';
import { waitFor } from './wait.ts';
import { addAccount } from './accounts.ts';

const NAME = 'ledger';
const ROLE = 'ledger_app';
const OLD_PASSWORD = 'the old ledger password';
const NEW_PASSWORD = 'the new ledger password';
const VIEWER = { email: 'settings-viewer@example.org', password: 'a long enough viewer password' };
const SETTINGS = `/databases/${NAME}/settings`;

export interface SettingsScenario {
  platform: Platform;
  web: SignedInConsole;
  /** Where the second storage keeps its files. */
  secondDir: string;
  /** The backup taken under the old password, and the table as it was then. */
  first: { id: string; entries: { rows: number; md5: string } };
  /**
   * A page signed in as the owner (or `as` another account), with or without JavaScript; its script
   * errors are checked when the scenario closes.
   */
  open(route: string, javaScript?: boolean, as?: { email: string; password: string }): Promise<Page>;
  close(): Promise<void>;
}

async function sessionCookie(url: string, account: { email: string; password: string }) {
  const login = await fetch(`${url}/api/v1/session`, {
    method: 'POST',
    body: JSON.stringify(account),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(login.status, 200);
  const [name, value] = (login.headers.get('set-cookie') ?? '').split(';')[0]!.split('=');
  return { name: name!, value: value!, url };
}

/** `ledger` on the test server, owned by a role of its own, with 500 entries; its URL with the old password. */
async function createLedger(platform: Platform): Promise<PgTarget> {
  const admin = await connect('test server', platform.cluster.target('postgres'));
  try {
    await admin.query(`create role ${ROLE} login createdb password '${OLD_PASSWORD}'`);
    await admin.query(`create database ${NAME} owner ${ROLE}`);
  } finally {
    await admin.end();
  }
  const source = { ...platform.cluster.target(NAME), user: ROLE, password: OLD_PASSWORD };
  const client = await connect(NAME, source);
  await client.query(
    'create table entries (id int primary key, amount numeric); insert into entries select g, g * 3 from generate_series(1, 500) g',
  );
  await client.end();
  return source;
}

export async function startSettingsScenario(platform: Platform, web: SignedInConsole): Promise<SettingsScenario> {
  const source = await createLedger(platform);
  await platform.ops.addDatabase({ name: NAME, url: targetUrl(source), verifyAfterBackup: false });
  const secondDir = path.join(platform.dir, 'second');
  await mkdir(secondDir, { recursive: true });
  await platform.ops.saveStorage('second', { type: 'local', path: secondDir });
  const first = (await (await platform.ops.startBackup(NAME)).result()).backupId;
  const entries = await tableFingerprint(source, 'entries', 'id');
  // Changed after the first backup, so that its restore is told apart from the table as it is now.
  const client = await connect(NAME, source);
  await client.query('delete from entries where id > 400');
  await client.end();

  const owner = await web.services.access.actorForEmail(CONSOLE_OWNER.email, 'test');
  await addAccount(web.services.access, owner, { ...VIEWER, workspace: 'default', role: 'viewer' });
  const cookie = await sessionCookie(web.url, CONSOLE_OWNER);
  const browser: Browser = await launchChromium();
  const errors: Array<() => string[]> = [];
  return {
    platform,
    web,
    secondDir,
    first: { id: first, entries },
    async open(route, javaScript = true, as) {
      const context = await browser.newContext({ javaScriptEnabled: javaScript });
      await context.addCookies([as ? await sessionCookie(web.url, as) : cookie]);
      const page = await context.newPage();
      errors.push(watchPageErrors(page));
      await page.goto(`${web.url}${route}`);
      return page;
    },
    async close() {
      await browser.close();
      assert.deepEqual(
        errors.flatMap((e) => e()),
        [],
        'no script error in the browser',
      );
    },
  };
}

/** The Remove button disables itself once scripts run: from then on the page's forms are enhanced. */
const hydrated = (page: Page) => page.waitForSelector('form[action="?/remove"] button:disabled', { state: 'attached' });

const storedPassword = async (s: SettingsScenario) => (await s.platform.runtime.catalog.databaseTarget(NAME)).password;

/**
 * From the database page to its settings: the URL without a password, a refused wrong password that
 * saves nothing, then the right one (the server's password changed first) and a connection test.
 */
export async function changePassword(s: SettingsScenario): Promise<void> {
  const page = await s.open(`/databases/${NAME}`);
  await page.locator(`a[href="${SETTINGS}"]`).click();
  await page.waitForURL(`${s.web.url}${SETTINGS}`);
  await hydrated(page);
  const db = await s.platform.runtime.catalog.getDatabase(NAME);
  const url = page.getByLabel('Connection URL (without the password)');
  assert.equal(await url.inputValue(), `postgres://${ROLE}@${db.host}:${db.port}/${NAME}`, 'the URL, no password');
  assert.match(await page.getByTestId('password-state').innerText(), /A password is stored/);
  assert.ok(!(await page.content()).includes(OLD_PASSWORD), 'the password never reaches the browser');

  const admin = await connect('test server', s.platform.cluster.target('postgres'));
  await admin.query(`alter role ${ROLE} password '${NEW_PASSWORD}'`);
  await admin.end();
  const password = page.getByLabel('New password (blank keeps the stored one)');
  await password.fill('not the password');
  await page.getByRole('button', { name: 'Save connection' }).click();
  assert.match(
    await page.getByTestId('connection-error').innerText(),
    /password authentication failed for user "ledger_app".*nothing was changed/s,
  );
  assert.equal(await storedPassword(s), OLD_PASSWORD, 'the refused password is not saved');

  await password.fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Save connection' }).click();
  await page.getByTestId('connection-saved').waitFor();
  assert.equal(await storedPassword(s), NEW_PASSWORD);
  assert.equal(await password.inputValue(), '', 'a saved password leaves the field');
  await page.getByRole('button', { name: 'Test the saved connection' }).click();
  assert.match(await page.getByTestId('connection-test').innerText(), /^Connected in \d+ ms: PostgreSQL \d+/);
  await page.context().close();
}

/**
 * The next backup goes only to the storage chosen, and completes with the new password; the backup
 * taken under the old one still restores by id, with the table as it was then.
 */
export async function changeStoragesAndBackUp(s: SettingsScenario): Promise<void> {
  const page = await s.open(SETTINGS);
  await hydrated(page);
  await page.locator('input[name=storages][value=local]').uncheck();
  await page.locator('input[name=storages][value=second]').check();
  await page.getByRole('button', { name: 'Save storages' }).click();
  await page.getByTestId('storages-saved').waitFor();
  assert.deepEqual((await s.platform.runtime.catalog.getDatabase(NAME)).storageNames, ['second']);

  await page.locator(`a[href="/databases/${NAME}"]`).click();
  await page.getByRole('button', { name: 'Back up now' }).click();
  const started = (await page.getByText('Backup started:').locator('code').innerText()).trim();
  const done = await waitFor(
    'the backup to end',
    async () => {
      // The row appears once the workflow has begun; until then the id is not found.
      const b = await s.platform.runtime.catalog.getBackup(started).catch(() => undefined);
      return b?.status === 'running' ? undefined : b;
    },
    30_000,
  );
  assert.equal(done.status, 'complete', done.error ?? '');
  assert.deepEqual(
    done.copies.map((c) => `${c.storageName}:${c.status}`),
    ['second:complete'],
    'exactly the chosen storage',
  );
  assert.ok((await readdir(path.join(s.secondDir, NAME))).some((f) => f.startsWith(started)));
  await page.context().close();

  const restore = await s.platform.ops.startRestore({
    database: NAME,
    backupId: s.first.id,
    to: { database: 'ledger_then' },
  });
  await restore.result();
  const then = await tableFingerprint(
    { ...s.platform.cluster.target('ledger_then'), user: ROLE, password: NEW_PASSWORD },
    'entries',
    'id',
  );
  assert.deepEqual(then, s.first.entries, 'the earlier backup restores the table as it was');
  assert.equal(then.rows, 500);
}

/** Verification and health saved by plain form posts, without JavaScript; an out-of-range value saves nothing. */
export async function saveChecksWithoutJavaScript(s: SettingsScenario): Promise<void> {
  const settings = () => s.platform.runtime.catalog.getDatabase(NAME);
  const page = await s.open(SETTINGS, false);
  await page.getByRole('checkbox', { name: /Verify every new backup/ }).check();
  await page.getByRole('button', { name: 'Save verification' }).click();
  await page.getByTestId('verification-saved').waitFor();
  assert.equal((await settings()).verifyAfterBackup, true);
  await page.getByRole('checkbox', { name: /Verify every new backup/ }).uncheck();
  await page.getByRole('button', { name: 'Save verification' }).click();
  await page.getByText('Verification after each backup is off.').waitFor();
  assert.equal((await settings()).verifyAfterBackup, false);

  assert.ok(await page.getByText('Seconds between probes (1–86400)').isVisible(), 'the range is shown');
  await page.getByLabel(/Seconds between probes/).fill('120');
  await page.getByLabel(/Failed probes in a row/).fill('4');
  await page.getByRole('button', { name: 'Save health checks' }).click();
  await page.getByTestId('health-saved').waitFor();
  const saved = await settings();
  assert.deepEqual([saved.healthIntervalSeconds, saved.healthFailureThreshold], [120, 4]);
  await page.context().close();

  const refused = await s.web.action(`${SETTINGS}?/health`, {
    healthIntervalSeconds: '0',
    healthFailureThreshold: '4',
  });
  assert.equal(refused.type, 'failure');
  assert.match(refused.data ?? '', /healthIntervalSeconds: Too small: expected number to be >=1/);
  assert.equal((await settings()).healthIntervalSeconds, 120, 'nothing saved');
}

/** A viewer sees the settings without a form to change them, and the service refuses a post. */
export async function viewerReadsOnly(s: SettingsScenario): Promise<void> {
  const cookie = await sessionCookie(s.web.url, VIEWER);
  const header = `${cookie.name}=${cookie.value}`;
  const response = await fetch(`${s.web.url}${SETTINGS}`, { headers: { cookie: header } });
  assert.equal(response.status, 200);
  const html = await response.text();
  assert.match(html, /data-testid="read-only"/);
  assert.match(html, /every 120 s/, 'the health settings, read-only');
  const offers = ['action="?/rename"', 'Save connection', 'Save storages', 'Save verification', 'Save health checks'];
  for (const offer of [...offers, 'Remove ledger'])
    assert.ok(!html.includes(offer), `a viewer is not offered "${offer}"`);
  const refused = await s.web.action(`${SETTINGS}?/verification`, { verifyAfterBackup: 'on' }, header);
  assert.deepEqual([refused.type, refused.status], ['failure', 403]);
  assert.match(refused.data ?? '', /database\.update.*needs the editor role/);
  const rename = await s.web.action(`${SETTINGS}?/rename`, { name: 'ledger_renamed' }, header);
  assert.deepEqual([rename.type, rename.status], ['failure', 403], 'the service refuses a viewer a rename');
  assert.equal((await s.platform.runtime.catalog.getDatabase(NAME)).verifyAfterBackup, false);
}

/** A wrong typed name removes nothing; the right one removes the database and keeps its backups' files. */
export async function removeWithTypedName(s: SettingsScenario): Promise<void> {
  const wrong = await s.web.action(`${SETTINGS}?/remove`, { backups: 'keep', confirm: 'ledge' });
  assert.equal(wrong.type, 'failure');
  assert.match(wrong.data ?? '', /Type the database's name, ledger, to confirm: nothing was removed/);
  assert.ok(
    (await s.platform.ops.listDatabases()).some((d) => d.name === NAME),
    'still there',
  );

  const page = await s.open(SETTINGS);
  await hydrated(page);
  await screenshot(page, 'database-settings');
  await page.setViewportSize({ width: 390, height: 844 });
  assert.equal(await horizontalOverflow(page), 0, 'no sideways scrolling on a phone');
  const button = page.getByRole('button', { name: 'Remove ledger' });
  await page.getByLabel(/to confirm/).fill('ledge');
  assert.equal(await button.isDisabled(), true, 'disabled until the name is typed');
  assert.equal(await page.getByRole('radio', { name: /Keep its backups/ }).isChecked(), true, 'keep by default');
  await page.getByLabel(/to confirm/).fill(NAME);
  await button.click();
  await page.waitForURL(`${s.web.url}/`);
  assert.equal(
    await page.getByTestId('flash').innerText(),
    'Database ledger removed. Its 2 backups stay in storages local, second: adding the database again as ledger adopts them.',
  );
  assert.ok(!(await s.platform.ops.listDatabases()).some((d) => d.name === NAME), 'removed');
  assert.ok((await readdir(path.join(s.secondDir, NAME))).length > 0, 'its backups stay in storage');
  await page.context().close();
}

/** Links into the Temporal UI on the overview's and the database page's backup rows, as `account` sees them. */
async function workflowLinks(s: SettingsScenario, account: { email: string; password: string }) {
  const hrefs: string[] = [];
  for (const route of ['/', `/databases/${NAME}`]) {
    // Rendered by the server: no script needed, and none left loading when the page closes.
    const page = await s.open(route, false, account);
    await page.waitForLoadState('networkidle');
    const rows = page.locator('td[data-label="Workflow"], tr[data-backup-id]');
    assert.ok((await rows.count()) > 0, `${route}: backup rows are listed`);
    hrefs.push(
      ...(await page.locator('a[href*="/workflows/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')!))),
    );
    await page.context().close();
  }
  return hrefs;
}

/**
 * The console serves the Temporal UI (the test's platform starts it): once a second workspace
 * exists, a viewer of `default` alone may not open it (view/temporal-ui.ts), and no page links into
 * it for them; the owner's backup rows link to their runs there.
 */
export async function temporalLinksFollowTheRule(s: SettingsScenario): Promise<void> {
  assert.ok(s.platform.config.temporalUiUpstream, 'the console serves the Temporal UI');
  const owner = await s.web.services.access.actorForEmail(CONSOLE_OWNER.email, 'test');
  await s.web.services.access.createWorkspace(owner, 'settings-blue');
  const ownerLinks = await workflowLinks(s, CONSOLE_OWNER);
  const backups = await s.platform.runtime.catalog.listBackups(NAME);
  for (const b of backups)
    assert.ok(ownerLinks.includes(`/temporal/namespaces/default/workflows/${encodeURIComponent(b.workflowId)}`), b.id);
  assert.deepEqual(await workflowLinks(s, VIEWER), [], 'a viewer who may not open the Temporal UI gets no link to it');
}

/** The scenario's steps in order, each a test of its own; removal comes last. */
const STEPS: ReadonlyArray<readonly [string, (s: SettingsScenario) => Promise<void>]> = [
  ['refuses a wrong password and saves the right one, after ALTER ROLE on the server', changePassword],
  [
    'sends the next backup to exactly the chosen storages; an earlier backup still restores by id',
    changeStoragesAndBackUp,
  ],
  ['saves verification and health without JavaScript', saveChecksWithoutJavaScript],
  ['shows a viewer the settings read-only', viewerReadsOnly],
  ['renames a second database; its earlier backup stays listed and restores by id', renameInTheConsole],
  ['removes it deleting its backups from storage, without JavaScript', removeDeletingBackups],
  ['links into the Temporal UI only for those who may open it', temporalLinksFollowTheRule],
  ['removes the database only with its name typed, keeping its backups', removeWithTypedName],
];

/** The scenario as a suite inside the caller's, after its tests: `ready` gives its platform and signed-in console. */
export function settingsPageTests(ready: () => { platform: Platform; web: SignedInConsole }): void {
  describe('the settings page, in chromium', () => {
    let scenario: SettingsScenario | undefined;
    before(async () => {
      const { platform, web } = ready();
      scenario = await startSettingsScenario(platform, web);
    });
    after(() => scenario?.close());
    for (const [title, step] of STEPS) it(title, () => step(scenario!));
  });
}
