/**
 * The settings scenario's second database, `journal`, so that `ledger` keeps its own checks: renamed
 * in the console (its backup stays attached and restores by id), then removed with its backups
 * deleted from storage.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import type { SignedInConsole } from './console.ts';
import { tableFingerprint, type Platform } from './platform.ts';

const OLD = 'journal';
const NEW = 'journal_kept';
/** The scenario's first database: a name already taken. */
const TAKEN = 'ledger';

/** What the steps need of the scenario (console-settings.ts). */
export interface ConsoleSteps {
  platform: Platform;
  web: SignedInConsole;
  open(route: string, javaScript?: boolean): Promise<Page>;
}

/** `journal` on the test server with 300 lines, registered to the `local` storage, and one backup of it. */
async function addJournal(platform: Platform) {
  const admin = await connect('test server', platform.cluster.target('postgres'));
  await admin.query(`create database ${OLD}`);
  await admin.end();
  const target = platform.cluster.target(OLD);
  const client = await connect(OLD, target);
  await client.query(
    "create table lines (id int primary key, note text); insert into lines select g, 'line ' || g from generate_series(1, 300) g",
  );
  await client.end();
  await platform.ops.addDatabase({ name: OLD, url: targetUrl(target), verifyAfterBackup: false });
  const backupId = (await (await platform.ops.startBackup(OLD)).result()).backupId;
  const lines = await tableFingerprint(target, 'lines', 'id');
  // Changed after the backup, so that its restore is told apart from the table as it is now.
  const after = await connect(OLD, target);
  await after.query('delete from lines where id > 200');
  await after.end();
  return { backupId, lines };
}

/** The names of the files a local storage holds for a database name ([] when it has none). */
const filesUnder = (platform: Platform, name: string) =>
  readdir(path.join(platform.backupsDir, name)).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });

/**
 * A taken name is refused by the field and renames nothing; a free one opens the settings under
 * it with a notice, the earlier backup is listed on its page and restores by id as it was.
 */
export async function renameInTheConsole(s: ConsoleSteps): Promise<void> {
  const { backupId, lines } = await addJournal(s.platform);
  const page = await s.open(`/databases/${OLD}/settings`);
  await page.waitForSelector('form[action="?/remove"] button:disabled', { state: 'attached' });
  assert.match(
    await page.getByTestId('name-panel').innerText(),
    /health monitor move to the new name\. Its 1 backup stays attached/,
  );
  const field = page.getByLabel(/^New name/);
  await field.fill(TAKEN);
  await page.getByRole('button', { name: 'Rename' }).click();
  assert.match(
    await page.getByTestId('name-error').innerText(),
    /Not renamed: database "ledger" is already registered: choose another name/,
  );
  assert.equal(await field.getAttribute('aria-invalid'), 'true', 'the refusal is told by the field');
  assert.equal(await field.inputValue(), TAKEN, 'what was typed stays');
  assert.ok(await s.platform.runtime.catalog.findDatabase(OLD), 'nothing renamed');

  await field.fill(NEW);
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.waitForURL(`${s.web.url}/databases/${NEW}/settings`);
  assert.match(
    await page.getByTestId('flash').innerText(),
    /Renamed journal to journal_kept: its schedules and health monitor moved with it, and its backups stay attached/,
  );
  assert.equal(await s.platform.runtime.catalog.findDatabase(OLD), undefined, 'the old name is free');
  await page.locator(`a[href="/databases/${NEW}"]`).click();
  await page.locator(`[data-backup-id="${backupId}"]`).waitFor();
  await page.context().close();

  const restore = await s.platform.ops.startRestore({ database: NEW, backupId, to: { database: 'journal_then' } });
  await restore.result();
  const then = await tableFingerprint(s.platform.cluster.target('journal_then'), 'lines', 'id');
  assert.deepEqual(then, lines, 'the backup taken before the rename restores the table as it was');
  assert.equal(then.rows, 300);
}

/**
 * Without JavaScript, "delete its backups" removes the renamed database and every object of its
 * backup from the storage (still under the name they were taken under); the overview says how many.
 */
export async function removeDeletingBackups(s: ConsoleSteps): Promise<void> {
  const [backup] = await s.platform.runtime.catalog.listBackups(NEW);
  assert.ok(backup, 'the renamed database has its backup');
  const ofBackup = async () => (await filesUnder(s.platform, OLD)).filter((f) => f.startsWith(backup.id));
  assert.deepEqual(
    (await ofBackup()).sort(),
    [`${backup.id}.dump.hsb`, `${backup.id}.json`, `${backup.id}.roles.hsb`],
    'in storage first',
  );

  const page = await s.open(`/databases/${NEW}/settings`, false);
  await page.getByRole('radio', { name: /Delete its backups/ }).check();
  await page.getByLabel(/to confirm/).fill(NEW);
  await page.getByRole('button', { name: `Remove ${NEW}` }).click();
  await page.waitForURL(`${s.web.url}/`);
  assert.equal(
    await page.getByTestId('flash').innerText(),
    `Database ${NEW} removed, and its 1 backup deleted from storage local.`,
  );
  await page.context().close();
  assert.equal(await s.platform.runtime.catalog.findDatabase(NEW), undefined, 'removed');
  assert.deepEqual(await ofBackup(), [], 'no object of its backup remains in the storage');
}
