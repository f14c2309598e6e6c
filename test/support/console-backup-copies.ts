/**
 * The database page's backup downloads and copy forms, driven in a real browser: what the
 * download links hand over is the backup (the stored object's SHA-256, the dump's header and
 * SHA-256), and the copy forms start real copies into a second storage, with and without JavaScript.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext, Download, Page } from 'playwright-core';
import { operatorActor } from '../../services/authz.ts';
import type { HostServices } from '../../web/src/lib/server/view/index.ts';
import type { Platform } from './platform.ts';
import { expectedArchive } from './expected-archive.ts';
import { gotoHydrated } from './browser.ts';
import { waitFor } from './wait.ts';

/** A download's SHA-256 and first bytes, read as it streams in. */
async function digestOf(download: Download): Promise<{ sha256: string; head: Buffer; name: string }> {
  const hash = createHash('sha256');
  let head = Buffer.alloc(0);
  for await (const chunk of (await download.createReadStream()) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    if (head.length < 16) head = Buffer.concat([head, chunk.subarray(0, 16 - head.length)]);
  }
  return { sha256: hash.digest('hex'), head, name: download.suggestedFilename() };
}

async function downloadFrom(page: Page, link: ReturnType<Page['getByTestId']>) {
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.equal(await download.failure(), null, 'the download completed');
  return digestOf(download);
}

/** The row's two download links: the stored object as is, and the dump decrypted. */
export async function checkDownloads(page: Page, url: string, platform: Platform, backupId: string): Promise<void> {
  await gotoHydrated(page, `${url}/databases/shop`);
  const row = page.locator(`tr[data-backup-id="${backupId}"]`);
  const record = await platform.runtime.catalog.getBackup(backupId);
  const stored = await downloadFrom(page, row.getByTestId('download-hsb'));
  assert.equal(stored.sha256, record.objectSha256, 'the encrypted download is the stored object, byte for byte');
  assert.equal(stored.name, `shop-${backupId}.dump.hsb`);
  const dump = await downloadFrom(page, row.getByTestId('download-dump'));
  assert.equal(dump.head.subarray(0, 5).toString('latin1'), 'PGDMP', 'the decrypted download is a pg_dump archive');
  const storage = record.copies.find((c) => c.status === 'complete')!.storageName;
  const config = (await platform.runtime.catalog.storageConfig(storage)) as { path: string };
  const stored_ = path.join(config.path, 'shop', `${backupId}.dump.hsb`);
  const manifest = JSON.parse(await readFile(stored_.replace(/\.dump\.hsb$/, '.json'), 'utf8'));
  const expected = await expectedArchive(stored_, platform.runtime.keyring.resolve, manifest);
  assert.equal(dump.sha256, expected.sha256, 'and exactly the dump the backup recorded, ready for pg_restore');
  assert.equal(dump.name, `shop-${backupId}.dump`);
}

/**
 * "Copy to…" on the row, in a browser without JavaScript: the form posts, the answer page says the
 * copy started, and the second storage then holds the exact object. The panel's bulk form, with
 * JavaScript, then finds nothing left to copy and says so in place.
 */
export async function checkCopyForms(
  context: BrowserContext,
  page: Page,
  url: string,
  platform: Platform,
  services: HostServices,
  backupId: string,
): Promise<void> {
  const vaultDir = path.join(platform.dir, 'vault');
  await mkdir(vaultDir, { recursive: true });
  await services.domain.storages.save(operatorActor('test'), 'vault', { type: 'local', path: vaultDir });
  const plain = await context.browser()!.newContext({
    javaScriptEnabled: false,
    storageState: await context.storageState(),
  });
  try {
    const noScript = await plain.newPage();
    await noScript.goto(`${url}/databases/shop`);
    const row = noScript.locator(`tr[data-backup-id="${backupId}"]`);
    await row.getByText('Copy to…').click();
    await row.getByLabel('Storage').selectOption('vault');
    await row.getByRole('button', { name: 'Copy' }).click();
    await noScript.waitForURL((u) => u.pathname === '/databases/shop/copies');
    assert.match(
      await noScript.getByTestId('copy-result').innerText(),
      new RegExp(`Copying backup ${backupId} into vault`),
    );
  } finally {
    await plain.close();
  }
  const record = await waitFor(
    'the copy in vault',
    async () => {
      const b = await platform.runtime.catalog.getBackup(backupId);
      return b.copies.some((c) => c.storageName === 'vault' && c.status === 'complete') ? b : undefined;
    },
    60_000,
  );
  const object = await readFile(path.join(vaultDir, 'shop', `${backupId}.dump.hsb`));
  assert.equal(createHash('sha256').update(object).digest('hex'), record.objectSha256, 'vault holds the exact object');

  await gotoHydrated(page, `${url}/databases/shop`);
  const bulk = page.getByTestId('copy-all-form');
  await bulk.getByLabel('Copy older backups to storage').selectOption('vault');
  await bulk.getByRole('button', { name: 'Copy backups' }).click();
  await page.getByTestId('copy-result').filter({ hasText: 'already holds every backup of shop' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/databases/shop', 'the answer is shown on the page itself');

  // The API, with the same session: a second copy into vault is refused, naming why.
  const again = await page.request.post(`${url}/api/v1/backups/${backupId}/copy`, {
    data: { storages: ['vault'] },
    headers: { origin: url },
  });
  assert.equal(again.status(), 409);
  const { error } = (await again.json()) as { error: { message: string } };
  assert.match(error.message, new RegExp(`backup ${backupId} already has a complete copy in storage "vault"`));
}
