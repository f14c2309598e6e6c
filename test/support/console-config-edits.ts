/**
 * The console's edit and remove forms for storages and notifiers, in the real browser of
 * console-browser.test.ts: registered inside its suite, after its backup to the local storage
 * "nas" used by the database "shop". An S3 storage on moto with authentication on shows that a
 * stored secret is kept when its field is left empty: its connection test could not pass otherwise.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, it } from 'node:test';
import type { Page } from 'playwright-core';
import { operatorActor } from '../../services/authz.ts';
import { gotoHydrated, screenshot } from './browser.ts';
import type { Platform } from './platform.ts';
import { newBucket, rawClient, s3StorageSettings } from './s3-moto-helpers.ts';
import { startMoto, type MotoServer } from './servers/moto.ts';

export interface ConsoleUnderTest {
  page: Page;
  platform: Platform;
  /** The console's address. */
  url: string;
}

const operator = operatorActor('test');

/** The console answered a form: enhanced, the notice replaces the page in place. */
const answer = (page: Page, testId: string, text: RegExp) =>
  page.getByTestId(testId).filter({ hasText: text }).waitFor();

/** Opens a row's "Remove…" disclosure and types `typed` into its confirmation. */
async function typeRemoval(page: Page, row: string, typed: string) {
  const cell = page.locator(row);
  await cell.locator('summary').click();
  await cell.locator('input[name="confirm"]').fill(typed);
  return cell.getByRole('button', { name: /^(Remove|Delete) / });
}

async function editS3Storage({ page, platform, url }: ConsoleUnderTest, moto: MotoServer) {
  const user = await moto.createS3User('console-offsite');
  const bucket = await newBucket(rawClient(moto, user), 'console');
  await moto.enableAuth();
  await platform.services.storages.save(operator, 'offsite', s3StorageSettings(moto, bucket, user));

  await gotoHydrated(page, `${url}/storages/offsite`);
  const form = page.getByTestId('storage-edit');
  assert.equal(await form.getByLabel('Secret access key (stored; blank keeps it)').inputValue(), '');
  assert.equal((await page.content()).includes(user.secretAccessKey), false, 'the stored secret is not in the page');
  // The same moto by another name: only the endpoint changes, the secret is left empty.
  const endpoint = `http://localhost:${moto.port}`;
  await form.getByLabel('Endpoint').fill(endpoint);
  await form.getByRole('button', { name: 'Test and save' }).click();
  await answer(page, 'storage-edit-result', /Storage "offsite" is changed; its connection test passed/);
  const stored: Record<string, unknown> = await platform.runtime.catalog.storageConfig('offsite');
  assert.deepEqual([stored.endpoint, stored.secretAccessKey], [endpoint, user.secretAccessKey]);
  await page.getByRole('button', { name: 'Test connection' }).click();
  await answer(page, 'storage-test-result', /^OK in \d+ ms/);
  assert.equal((await page.content()).includes(user.secretAccessKey), false, 'nor after saving');
  await screenshot(page, '19-storage-edit');
}

async function editLocalStorages({ page, platform, url }: ConsoleUnderTest) {
  const form = page.getByTestId('storage-edit');
  // nas holds the backup of shop: its path is shown fixed, and the server refuses it all the same.
  await gotoHydrated(page, `${url}/storages/nas`);
  const nasPath = form.getByLabel('Path (fixed: it holds backups)');
  assert.equal(await nasPath.getAttribute('readonly'), '');
  await page.getByTestId('storage-locked').waitFor();
  const before = await platform.runtime.catalog.storageConfig('nas');
  await nasPath.evaluate((input) => input.removeAttribute('readonly'));
  await nasPath.fill(path.join(platform.dir, 'elsewhere'));
  await form.getByRole('button', { name: 'Test and save' }).click();
  await answer(page, 'field-error', /holds 1 backup copies, and changing its path would leave them unreachable/);
  assert.deepEqual(await platform.runtime.catalog.storageConfig('nas'), before);

  // An unused local storage may move.
  const [first, second] = [path.join(platform.dir, 'scratch-a'), path.join(platform.dir, 'scratch-b')];
  await Promise.all([mkdir(first, { recursive: true }), mkdir(second, { recursive: true })]);
  await platform.services.storages.save(operator, 'scratch', { type: 'local', path: first });
  await gotoHydrated(page, `${url}/storages/scratch`);
  await form.getByLabel('Path').fill(second);
  await form.getByRole('button', { name: 'Test and save' }).click();
  await answer(page, 'storage-edit-result', /Storage "scratch" is changed/);
  assert.deepEqual(await platform.runtime.catalog.storageConfig('scratch'), { type: 'local', path: second });
}

async function removeStorages({ page, platform, url }: ConsoleUnderTest) {
  await gotoHydrated(page, `${url}/storages`);
  const mistyped = await typeRemoval(page, 'tr[data-storage="nas"]', 'na');
  assert.equal(await mistyped.isDisabled(), true, 'a mistyped name keeps the button disabled');
  await page.locator('tr[data-storage="nas"] input[name="confirm"]').fill('nas');
  await mistyped.click();
  await answer(page, 'storage-remove-error', /storage "nas" is in use by "shop"/);

  // The same session in a browser without JavaScript: the typed name is checked by the server alone.
  const browser = page.context().browser();
  assert.ok(browser, 'the page belongs to a launched browser');
  const plain = await browser.newContext({
    javaScriptEnabled: false,
    storageState: await page.context().storageState(),
  });
  try {
    const noScript = await plain.newPage();
    await noScript.goto(`${url}/storages`);
    await (await typeRemoval(noScript, 'tr[data-storage="scratch"]', 'scratc')).click();
    await answer(noScript, 'storage-remove-error', /type the storage's name "scratch" exactly/);
    await (await typeRemoval(noScript, 'tr[data-storage="scratch"]', 'scratch')).click();
    await noScript.getByText('Storage "scratch" is removed.').waitFor();
  } finally {
    await plain.close();
  }
  const names = (await platform.services.storages.list(operator)).map((s) => s.name);
  assert.deepEqual(
    ['nas', 'offsite', 'scratch'].filter((name) => names.includes(name)),
    ['nas', 'offsite'],
    'scratch is gone, the others stay',
  );
}

async function editAndDeleteNotifier({ page, platform, url }: ConsoleUnderTest) {
  const secret = `sign-${randomBytes(12).toString('hex')}`;
  const hookUrl = `http://127.0.0.1:9/hook/${randomBytes(8).toString('hex')}`;
  await platform.services.notifiers.save(operator, 'ops-hook', { type: 'webhook', url: hookUrl, secret }, [
    'backup_failed',
  ]);
  await gotoHydrated(page, `${url}/notifiers?edit=ops-hook`);
  for (const hidden of [secret, hookUrl]) assert.equal((await page.content()).includes(hidden), false);
  await page.locator('input[name="events"][value="backup_succeeded"]').check();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByText('Notifier "ops-hook" is saved.').waitFor();
  assert.deepEqual((await platform.services.notifiers.get(operator, 'ops-hook')).events.sort(), [
    'backup_failed',
    'backup_succeeded',
  ]);
  const kept = await platform.services.notifiers.storedConfig(operator, 'ops-hook');
  assert.deepEqual([(kept as { url: string }).url, (kept as { secret?: string }).secret], [hookUrl, secret]);

  await gotoHydrated(page, `${url}/notifiers`);
  await (await typeRemoval(page, 'tr[data-notifier="ops-hook"]', 'ops-hook')).click();
  await page.getByText('Notifier "ops-hook" is deleted.').waitFor();
  assert.deepEqual(
    (await platform.services.notifiers.list(operator)).map((n) => n.name),
    [],
  );
}

export function storageAndNotifierEdits(get: () => ConsoleUnderTest): void {
  let moto: MotoServer | undefined;
  after(async () => moto?.stop());

  it('edits an S3 storage without retyping its secret, and a local one; a location holding backups stays', async () => {
    moto = await startMoto();
    await editS3Storage(get(), moto);
    await editLocalStorages(get());
  });

  it('removes a storage only on its typed name, and never one a database uses (also without JavaScript)', () =>
    removeStorages(get()));

  it("edits a notifier's events keeping its secrets, and deletes it on its typed name", () =>
    editAndDeleteNotifier(get()));
}
