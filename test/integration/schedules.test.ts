/**
 * Schedules through every entry point against a real Temporal dev server: the CLI, /api/v1 and the
 * console's form refuse the same lines with the same field-naming message; what they accept,
 * Temporal reads the same way (its own next action times equal ours); a schedule saved by the CLI
 * shows its next runs on the console's database page in a real browser; and `hindsight db show`
 * prints a registered database with a real backup, and with PITR on the window it can restore to.
 * On the same platform, a whole server is added and backed up as one (test/support/server-runs.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { formatBytes } from '../../cli/output.ts';
import { nextCronRuns } from '../../lib/schedule/cron.ts';
import { spreadSecond } from '../../lib/schedule/spread.ts';
import { gotoHydrated, launchChromium } from '../support/browser.ts';
import { CONSOLE_OWNER, postAction, startSignedInConsole, type SignedInConsole } from '../support/console.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import type { Platform } from '../support/platform.ts';
import { itemsTable, startSeededPlatform } from '../support/seeded-platform.ts';
import { startPitrWithRows, stopPitrPlatform, type PitrSource, type Row } from '../support/pitr-fixture.ts';
import { describeServerRuns } from '../support/server-runs.ts';

/** Each refused the same way everywhere: the message names the field and its range, or why it never fires. */
const REFUSED: Array<[string, string]> = [
  ['30 25 * * *', "hour 25 is out of range 0–23 in '30 25 * * *'"],
  ['30 2 31 2 *', "'30 2 31 2 *' never fires: day-of-month 31 does not occur in month 2 (February)"],
  ['0 3 * * 1#2', "day-of-week '1#2' is not understood in '0 3 * * 1#2'"],
  ['0 0 3 * * *', "'0 0 3 * * *' has 6 fields"],
];

/** Accepted lines in their zones, each one Temporal must read exactly as lib/schedule/cron.ts does. */
const ACCEPTED: Array<[string, string]> = [
  ['15 4 * * 1-5', 'Europe/Paris'],
  ['0 0 13 * 5', 'UTC'],
  ['*/20 9-17 * jan-jun mon,wed,FRI', 'America/New_York'],
  ['5/15 3 1,15 * *', 'Asia/Kolkata'],
  ['@weekly', 'Australia/Sydney'],
  ['30 2 * * 7', 'Europe/Berlin'],
];

describe('schedules: one rule for the CLI, the API and the console, as Temporal reads it', () => {
  let platform: Platform;
  let source: PgTarget;
  let web: SignedInConsole;
  let browser: Browser | undefined;
  let backupId: string;
  const cli = (args: string[]) => hindsightResult(platform.configEnv, args);
  const temporalNextRuns = async (count = 5) => {
    const description = await platform.client.schedule.getHandle('backup/shop').describe();
    return description.info.nextActionTimes.slice(0, count).map((d) => d.toISOString());
  };

  before(async () => {
    ({ platform, source } = await startSeededPlatform('shop', itemsTable(500)));
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), verifyAfterBackup: false });
    backupId = (await (await platform.ops.startBackup('shop')).result()).backupId;
    web = await startSignedInConsole(platform);
  });

  after(async () => {
    await browser?.close();
    await web?.close();
    await platform?.stop();
  });

  it('refuses the same lines with the same message from the CLI, /api/v1 and the console form, saving nothing', async () => {
    for (const [cron, message] of REFUSED) {
      const viaCli = await cli(['db', 'schedule', 'shop', cron, '--timezone', 'UTC']);
      assert.notEqual(viaCli.code, 0, `CLI ${cron}`);
      // The CLI and the API name the field once; the console shows the message beside the field.
      assert.ok(viaCli.stderr.includes(`hindsight: schedule: ${message}`), `CLI ${cron}: ${viaCli.stderr}`);

      const viaApi = await web.fetch(`${web.url}/api/v1/databases/shop/schedule`, {
        method: 'PUT',
        body: JSON.stringify({ schedule: cron, timezone: 'UTC' }),
        headers: { 'content-type': 'application/json', origin: web.url },
      });
      const apiText = await viaApi.text();
      assert.equal(viaApi.status, 400, `API ${cron}: ${apiText}`);
      const apiMessage = (JSON.parse(apiText) as { error: { message: string } }).error.message;
      assert.ok(apiMessage.includes(`schedule: ${message}`), apiText);

      const viaForm = await postAction(web, '/databases/shop?/schedule', { cron, timezone: 'UTC' });
      assert.equal(viaForm.type, 'failure', `console ${cron}`);
      assert.ok(viaForm.data?.includes(message), `console ${cron}: ${viaForm.data}`);
      for (const said of [viaCli.stderr, apiMessage, viaForm.data ?? ''])
        assert.doesNotMatch(said, /schedule:? schedule/, `the field is named once: ${said}`);
    }
    const added = await cli(['db', 'add', 'other', '--url', targetUrl(source), '--schedule', '30 25 * * *']);
    assert.notEqual(added.code, 0);
    assert.match(added.stderr, /hindsight: schedule: hour 25 is out of range 0–23 in '30 25 \* \* \*'/);

    assert.equal((await platform.runtime.catalog.getDatabase('shop')).schedule, null, 'nothing saved');
    await assert.rejects(platform.client.schedule.getHandle('backup/shop').describe(), /not found/i);
    assert.deepEqual(
      (await platform.runtime.catalog.listDatabases()).map((d) => d.name),
      ['shop'],
    );
  });

  it("accepts only what Temporal reads the same way: Temporal's next action times are ours, at the database's second", async () => {
    // Backups start at the database's own second of each minute the line names (lib/schedule/spread.ts).
    const offsetMs = spreadSecond('shop') * 1000;
    for (const [cron, zone] of ACCEPTED) {
      await platform.ops.setSchedule('shop', cron, zone);
      const theirs = await temporalNextRuns();
      // Ours from just before Temporal's first minute, so that a run falling between the two reads cannot differ.
      const from = new Date(Date.parse(theirs[0]!) - offsetMs - 1000);
      const ours = nextCronRuns(cron, zone, 5, from).map((d) => new Date(d.getTime() + offsetMs).toISOString());
      assert.deepEqual(ours, theirs, `${cron} in ${zone}`);
    }
  });

  it('shows the next runs of a schedule saved by the CLI on the database page, in a real browser', async () => {
    const saved = await cli(['db', 'schedule', 'shop', '30 2 * * 1-5', '--timezone', 'Europe/Berlin']);
    assert.equal(saved.code, 0, saved.stderr);
    const theirs = await temporalNextRuns();
    browser = await launchChromium();
    const context = await browser.newContext({ timezoneId: 'Asia/Tokyo' });
    const page = await context.newPage();
    const login = await page.request.post(`${web.url}/api/v1/session`, { data: CONSOLE_OWNER });
    assert.equal(login.status(), 200);
    await gotoHydrated(page, `${web.url}/databases/shop`);
    const runs = page.getByTestId('next-run');
    await runs.nth(4).waitFor();
    const shown = await runs.locator('time').evaluateAll((times) => times.map((t) => t.getAttribute('datetime')));
    assert.deepEqual(shown, theirs, 'the five runs Temporal will make');
    const first = await runs.first().innerText();
    assert.match(
      first,
      /^(Mon|Tue|Wed|Thu|Fri) \d{4}-\d\d-\d\d 02:30 GMT\+[12]\b/,
      "in the schedule's zone, not the browser's",
    );
    assert.match(await page.getByTestId('next-runs').innerText(), /Next runs of 30 2 \* \* 1-5 \(Europe\/Berlin\)/);
    await context.close();
  });

  it('db show: the settings without a password, the next five runs, the newest backup and PITR off', async () => {
    await platform.ops.setSchedule('shop', '45 23 * * *', 'America/New_York');
    const theirs = await temporalNextRuns();
    const text = await cli(['db', 'show', 'shop']);
    assert.equal(text.code, 0, text.stderr);
    const json = JSON.parse((await cli(['db', 'show', 'shop', '--json'])).stdout);
    const db = await platform.runtime.catalog.getDatabase('shop');
    const backup = await platform.runtime.catalog.getBackup(backupId);
    const health = (await platform.runtime.catalog.health.history('shop', 1))[0];

    assert.ok(text.stdout.includes(`connection    ${db.username}@${db.host}:${db.port}/${db.dbname}`), text.stdout);
    assert.ok(source.password, 'the source has a password, which must not be printed');
    assert.ok(!text.stdout.includes(source.password) && !JSON.stringify(json).includes(source.password));
    assert.match(text.stdout, /^storages {6}local \(local\)$/m);
    assert.match(text.stdout, /^schedule {6}45 23 \* \* \* \(America\/New_York\)$/m);
    assert.equal(text.stdout.match(/^ {2}next run {4}\S+ \d{4}-\d\d-\d\d 23:45 GMT-[45] {2}\(/gm)?.length, 5);
    assert.deepEqual(
      json.schedule.nextRuns.map((r: { iso: string }) => r.iso),
      theirs,
    );
    assert.match(text.stdout, /^verification {2}not after backups$/m);
    assert.match(text.stdout, /^pitr {10}off$/m);
    assert.deepEqual(json.pitr, {
      enabled: false,
      windows: [],
      gaps: [],
      error: null,
      sharesArchiveOf: null,
      archiveServer: null,
    });
    assert.equal(json.health.state, health?.status ?? 'unknown');

    assert.equal(json.backups.total, 1);
    assert.deepEqual(json.backups.newest[0], {
      id: backupId,
      startedAt: backup.startedAt.toISOString(),
      finishedAt: backup.finishedAt!.toISOString(),
      status: 'complete',
      sizeBytes: backup.sizeBytes,
      verification: null,
    });
    const row = text.stdout.split('\n').find((line) => line.startsWith(backupId));
    assert.ok(row, text.stdout);
    assert.match(row, new RegExp(`complete +${formatBytes(backup.sizeBytes).replace('.', '\\.')} +-$`));
  });

  describeServerRuns(
    () => platform,
    () => web,
    ['shop'],
  );
});

describe('db show with PITR on: the recoverable window covers every row archived', () => {
  let platform: Platform | undefined;
  let source: PitrSource | undefined;
  let rows: Row[] = [];

  before(async () => {
    ({ platform, source, rows } = await startPitrWithRows('shop', { forMs: 3_000, everyMs: 100 }));
  });

  after(() => stopPitrPlatform({ platform, source, database: 'shop' }));

  it('prints PITR on and a window from the base backup to at least the last row written', async () => {
    const shown = await hindsightResult(platform!.configEnv, ['db', 'show', 'shop', '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const { pitr } = JSON.parse(shown.stdout) as {
      pitr: {
        enabled: boolean;
        windows: Array<{ from: { time: string }; to: { time: string }; timeline: number; baseBackupId: string }>;
        error: string | null;
      };
    };
    assert.equal(pitr.enabled, true);
    assert.equal(pitr.error, null);
    assert.equal(pitr.windows.length, 1, JSON.stringify(pitr));
    const [window] = pitr.windows;
    assert.ok(Date.parse(window!.from.time) <= rows[0]!.at.getTime(), `${window!.from.time} is before the first row`);
    assert.ok(Date.parse(window!.to.time) >= rows.at(-1)!.at.getTime(), `${window!.to.time} is after the last row`);
    const text = await hindsightResult(platform!.configEnv, ['db', 'show', 'shop']);
    assert.match(text.stdout, /^pitr {10}on; recoverable:$/m);
    // The window's end is read again (the head is confirmed up to now), so only its start and base backup are fixed.
    const base = await platform!.runtime.catalog.wal.baseBackupsOf('shop');
    assert.deepEqual(
      base.map((b) => b.id),
      [window!.baseBackupId],
    );
    assert.match(
      text.stdout,
      new RegExp(`^  window {6}timeline ${window!.timeline}: .* base backup ${window!.baseBackupId}$`, 'm'),
    );
  });
});
