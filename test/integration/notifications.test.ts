import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import type { DeliveryRecord } from '../../lib/catalog/notifiers.ts';
import { createNotifierOperations, type NotifierOperations } from '../../services/notifiers/work.ts';
import { startSignedInConsole } from '../support/console.ts';
import { WATCHDOG_SCHEDULE_ID, type WatchdogOutcome } from '../../temporal/contracts/notifications.ts';
import { postAction } from '../support/console-forms.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import {
  httpNotifiers,
  mailNotifiers,
  saveChannelNotifiers,
  secrets,
  signedHook,
  startReceivers,
  waitForSent,
  type Receivers,
} from '../support/notifications-fixture.ts';
import {
  addPartiallyStoredDatabase,
  assertHttpChannelsHeard,
  assertMailsHeard,
  assertNoSecretIn,
} from '../support/notifications-checks.ts';
import type { Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';
import type { ReceivedMail } from '../support/notify-receivers.ts';
import { waitFor, withinMs } from '../support/wait.ts';

type ListedNotifier = { name: string; events: string[]; databases: string[]; settings: unknown };

describe('notifications: every channel to a real receiver, end to end', () => {
  let platform: Platform;
  let notifiers: NotifierOperations;
  let http: Receivers['http'];
  const mails: ReceivedMail[] = [];
  const closers: Array<() => Promise<void>> = [];
  let downPort: number;
  let backupId: string;
  const consolePages: string[] = [];

  const deliveriesOf = async (database: string, event: string): Promise<DeliveryRecord[]> =>
    (await notifiers.deliveries({ database, limit: 500 })).filter((d) => d.event === event);

  before(async () => {
    const orders =
      'create table orders (id int primary key, note text); insert into orders select g, md5(g::text) from generate_series(1, 500) g';
    let shop: PgTarget;
    ({ platform, source: shop } = await startSeededPlatform('shop', orders));
    notifiers = createNotifierOperations(platform.runtime, platform.client);
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(shop), verifyAfterBackup: false });
    // Registered without a check; its database does not exist, so every backup of it fails.
    await platform.ops.addDatabase({
      name: 'gone',
      url: targetUrl({ ...shop, database: 'no_such_database' }),
      verifyAfterBackup: false,
      skipCheck: true,
    });

    const receivers = await startReceivers(platform.dir, mails, closers);
    ({ http, downPort } = receivers);
    await saveChannelNotifiers(notifiers, receivers);
    const all = [...httpNotifiers, ...mailNotifiers];
    assert.deepEqual(await notifiers.attach('shop', [...all, 'down-hook']), [...all, 'down-hook'].sort());
    await notifiers.attach('gone', all);
  });

  after(async () => {
    await Promise.all(closers.map((close) => close().catch(() => undefined)));
    await platform?.stop();
  });

  it('a real backup completes at once and every attached notifier receives backup_succeeded', async () => {
    const started = await platform.ops.startBackup('shop');
    backupId = started.backupId;
    const outcome = await started.result();
    assert.equal(outcome.status, 'complete');
    const backup = await platform.runtime.catalog.getBackup(backupId);
    assert.equal(backup.status, 'complete', 'a notifier that is down does not hold up or fail the backup');

    const sent = await waitForSent(
      notifiers,
      'backup_succeeded delivered through all eight working notifiers',
      ['shop', 'backup_succeeded', 8],
      60_000,
    );
    assert.deepEqual(sent.map((d) => d.notifierName).sort(), [...httpNotifiers, ...mailNotifiers].sort());
    assert.ok(
      sent.every((d) => d.attempts === 1),
      'each went through on the first attempt',
    );
    assert.deepEqual(http.refused, [], 'every request had the shape its receiver expects');

    const expectedText = new RegExp(`backup ${backupId} of database "shop" is complete`);
    assertHttpChannelsHeard(http.received, expectedText);

    await waitFor('three mails', async () => (mails.length >= 3 ? true : undefined), 10_000);
    assertMailsHeard(mails, expectedText);
  });

  it('a failing backup notifies backup_failed with its cause', async () => {
    const started = await platform.ops.startBackup('gone');
    await assert.rejects(started.result());
    const sent = await waitForSent(
      notifiers,
      'backup_failed delivered eight times',
      ['gone', 'backup_failed', 8],
      60_000,
    );
    assert.equal(sent.length, 8);
    const slack = http.received.filter((r) => r.channel === 'slack' && r.text.includes('Backup failed'));
    assert.equal(slack.length, 1);
    assert.match(
      slack[0]!.text,
      new RegExp(`backup ${started.backupId} of database "gone" failed: .*no_such_database`),
    );
    const mail = mails.filter((m) => m.subject === '[Hindsight] Backup failed: gone');
    assert.equal(mail.length, 3);
  });

  it('a partial backup notifies backup_partial, and its verification verification_succeeded', async () => {
    await addPartiallyStoredDatabase(platform);
    await notifiers.saveNotifier('verify-hook', signedHook(http.url), [
      'backup_partial',
      'verification_succeeded',
      'verification_failed',
    ]);
    await notifiers.attach('wide', ['slack', 'verify-hook']);

    const started = await platform.ops.startBackup('wide');
    const outcome = await withinMs(180_000, 'the partial backup to end', started.result());
    assert.equal(outcome.status, 'partial');
    const partial = await waitForSent(
      notifiers,
      'backup_partial delivered to both',
      ['wide', 'backup_partial', 2],
      60_000,
    );
    assert.match(
      partial[0]!.message,
      new RegExp(
        `backup ${started.backupId} of database "wide" is partial: stored in local, missing from broken \\(.+\\)`,
      ),
    );
    const verified = await waitForSent(
      notifiers,
      'verification_succeeded delivered',
      ['wide', 'verification_succeeded', 1],
      180_000,
      1000,
    );
    assert.equal(verified[0]!.notifierName, 'verify-hook', 'slack does not hear of verifications: its toggle is off');
    assert.match(
      verified[0]!.message,
      new RegExp(
        `backup ${started.backupId} of database "wide" was restored in a throwaway server: 1 table, 300 rows, every row count matches`,
      ),
    );
    const hooked = http.received.filter(
      (r) => r.channel === 'webhook' && r.text.startsWith('verification_succeeded wide'),
    );
    assert.equal(hooked.length, 1, 'the signed webhook received it');
  });

  it('a notifier whose endpoint is down: the delivery fails after exactly five attempts and the notifier is reported failing', async () => {
    const failed = await waitFor(
      "the down notifier's delivery to be recorded failed",
      async () => {
        const d = (await deliveriesOf('shop', 'backup_succeeded')).find((x) => x.notifierName === 'down-hook');
        return d?.status === 'failed' ? d : undefined;
      },
      150_000,
      1000,
    );
    assert.equal(failed.attempts, 5, 'five attempts, no more');
    assert.match(
      failed.lastError ?? '',
      new RegExp(`notifier "down-hook" \\(webhook\\): cannot reach 127\\.0\\.0\\.1:${downPort} \\(ECONNREFUSED\\)`),
    );
    const elapsed = failed.updatedAt.getTime() - failed.createdAt.getTime();
    assert.ok(
      elapsed >= 39_000 && elapsed < 120_000,
      `retried for ${elapsed} ms: 1 + 3 + 9 + 27 s of backoff, within two minutes`,
    );
    const record = await notifiers.getNotifier('down-hook');
    assert.equal(record.consecutiveFailures, 1);
    assert.match(record.lastError ?? '', /ECONNREFUSED/);
    assert.equal((await notifiers.getNotifier('slack')).consecutiveFailures, 0);
    assert.equal((await platform.runtime.catalog.getBackup(backupId)).status, 'complete');
  });

  it('"send test" reports the receiver\'s answer, or its error in its own words', async () => {
    const ok = await notifiers.testNotifier('telegram');
    assert.equal(ok.ok, true, ok.detail);
    assert.match(http.received.at(-1)!.text, /test message from Hindsight/);
    const down = await notifiers.testNotifier('down-hook');
    assert.equal(down.ok, false);
    assert.match(down.detail, /cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    await notifiers.saveNotifier('tg-wrong-chat', {
      type: 'telegram',
      botToken: secrets.telegramToken,
      chatId: 999,
      apiBaseUrl: http.url,
    });
    const wrongChat = await notifiers.testNotifier('tg-wrong-chat');
    assert.equal(wrongChat.ok, false);
    assert.match(wrongChat.detail, /answered HTTP 400 \(Bad Request: chat not found\)/);
    const mailAuth = await platform.runtime.catalog.notifiers.config('mail-auth');
    assert.equal(mailAuth.type, 'email');
    await notifiers.saveNotifier('mail-wrong-pass', { ...mailAuth, auth: { user: 'ops', pass: 'not-the-password' } });
    const wrongPass = await notifiers.testNotifier('mail-wrong-pass');
    assert.equal(wrongPass.ok, false);
    assert.equal(wrongPass.kind, 'access_denied');
    assert.match(wrongPass.detail, /EAUTH.*check auth\.user and auth\.pass/);
    const mailTls = await platform.runtime.catalog.notifiers.config('mail-starttls');
    if (mailTls.type !== 'email') return assert.fail('email expected');
    const { ca: _ca, ...untrusted } = mailTls;
    await notifiers.saveNotifier('mail-untrusted', untrusted);
    const tls = await notifiers.testNotifier('mail-untrusted');
    assert.equal(tls.ok, false);
    assert.match(tls.detail, /certificate is not trusted/);
  });

  it('the watchdog: nothing for a fresh backup, backup_overdue once per episode for a stale one, and a sweep of rows no one woke', async () => {
    await notifiers.setBackupOverdue('shop', 1);
    const schedule = await platform.client.schedule.getHandle(WATCHDOG_SCHEDULE_ID).describe();
    assert.equal(schedule.action.type === 'startWorkflow' ? schedule.action.workflowType : '', 'backupWatchdog');
    assert.deepEqual(
      schedule.spec.intervals?.map((i) => i.every),
      [600_000],
      'every ten minutes',
    );
    const runWatchdog = (n: number) =>
      platform.client.workflow.execute('backupWatchdog', {
        taskQueue: platform.config.taskQueue,
        workflowId: `watchdog-test-${n}`,
        args: [{}],
      }) as Promise<WatchdogOutcome>;

    // A row queued without a wake-up (healthStore.notify alone), in a scope nothing else wakes: workspace 1's.
    assert.equal(
      await platform.runtime.catalog.health.notify({
        database: null,
        workspaceId: 1,
        event: 'database_down',
        message: 'a workspace-wide test row',
        dedupeKey: 'test:unwoken',
      }),
      true,
    );

    const fresh = await runWatchdog(1);
    assert.deepEqual(fresh.overdue, [], 'a backup minutes old is not overdue');
    assert.ok(!fresh.swept.includes(null), 'a row queued seconds ago is not swept: its wake-up may still come');

    // The last complete backup becomes two hours old.
    await platform.runtime.catalog.pool.query(
      `update backups set started_at = now() - interval '2 hours 1 minute', finished_at = now() - interval '2 hours' where id = $1`,
      [backupId],
    );
    const stale = await runWatchdog(2);
    assert.deepEqual(stale.overdue, ['shop']);
    assert.deepEqual(stale.queued, ['shop']);
    const again = await runWatchdog(3);
    assert.deepEqual(again.queued, [], 'the same episode is notified once');
    const overdue = await waitForSent(notifiers, 'backup_overdue delivered', ['shop', 'backup_overdue', 8], 60_000);
    assert.equal(overdue.length, 8);
    assert.match(
      http.received.filter((r) => r.channel === 'slack').at(-1)!.text,
      /database "shop" has had no successful backup for 2 h \(threshold 1 h; the last one, \d{8}T\d{6}Z-[0-9a-f]{6}, finished/,
    );

    // The row ages past the sweep's 30 s in the catalog rather than on the clock.
    await platform.runtime.catalog.pool.query(
      `update notifications set created_at = created_at - interval '31 seconds' where dedupe_key = 'test:unwoken'`,
    );
    const swept = await runWatchdog(4);
    assert.deepEqual(swept.swept, [null], 'the row no one woke delivery for is found');
    const unwoken = await waitFor(
      'the unwoken row delivered by every working notifier of the workspace',
      async () => {
        const d = (await notifiers.deliveries({ limit: 500 })).filter(
          (x) => x.database === null && x.status === 'sent',
        );
        return d.length === 8 ? d : undefined;
      },
      60_000,
    );
    assert.deepEqual(unwoken.map((d) => d.notifierName).sort(), [...httpNotifiers, ...mailNotifiers].sort());
    assert.ok(http.received.some((r) => r.channel === 'slack' && r.text.includes('a workspace-wide test row')));

    await notifiers.setBackupOverdue('shop', null);
    assert.deepEqual((await runWatchdog(5)).overdue, [], 'off means off');
  });

  it('the console\'s Notifiers page shows the failing notifier with its error, and "Send test" answers with the receiver\'s error', async () => {
    const server = await startSignedInConsole(platform);
    closers.push(server.close);
    const page = await (await server.fetch(`${server.url}/notifiers`)).text();
    consolePages.push(page);
    const row = (name: string) => new RegExp(`<tr data-notifier="${name}">([\\s\\S]*?)</tr>`).exec(page)?.[1] ?? '';
    // One failed delivery so far, or two once the workspace-wide row has also spent its retries.
    assert.match(row('down-hook'), /data-health="failing"[^>]*>Failing · [12] in a row/);
    assert.match(row('down-hook'), /cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    assert.match(row('slack'), /data-health="ok"/);
    assert.match(page, /href="\/notifiers"/, 'linked from the header');
    assert.match(page, /backup_failed/, 'recent deliveries are listed');

    type Answer = { type: string; status: number; data: string };
    const post = (notifier: string) =>
      postAction<Answer>(server.url, '/notifiers?/test', '', { notifier }, server.fetch);
    const refused = await post('tg-wrong-chat');
    consolePages.push(JSON.stringify(refused));
    assert.equal(refused.type, 'failure');
    assert.equal(refused.status, 502);
    assert.match(refused.data, /Bad Request: chat not found/);
    const delivered = await post('discord');
    assert.equal(delivered.type, 'success');
    assert.match(delivered.data, /HTTP 204/);
  });

  it('the hindsight command: notifier add, events, attach, list, test, remove, and db overdue', async () => {
    const hindsight = (...args: string[]) =>
      hindsightResult(platform.configEnv, args).then((r) => ({ code: r.code, out: r.stdout, err: r.stderr }));
    const config = JSON.stringify({ url: `${http.url}${secrets.discordPath}` });
    const added = await hindsight('notifier', 'add', 'cli-discord', '--type', 'discord', '--config', config);
    assert.equal(added.code, 0, added.err);
    assert.match(added.out, /notifier "cli-discord" saved \(discord: 127\.0\.0\.1:\d+; events backup_failed,/);
    // Each command is a process that spends most of a second loading: the sequences that touch different
    // things run side by side.
    await Promise.all([
      (async () => {
        assert.equal((await hindsight('notifier', 'events', 'cli-discord', 'backup_failed,backup_overdue')).code, 0);
        const attached = await hindsight('notifier', 'attach', 'gone', 'slack,cli-discord');
        assert.match(attached.out, /database "gone" notifies cli-discord, slack/);
        const listed = JSON.parse((await hindsight('notifier', 'list', '--json')).out) as ListedNotifier[];
        const mine = listed.find((n) => n.name === 'cli-discord')!;
        assert.deepEqual(mine.events, ['backup_failed', 'backup_overdue']);
        assert.deepEqual(mine.databases, ['gone']);
        assert.deepEqual(mine.settings, { type: 'discord' }, 'the webhook URL (it holds the token) is never shown');
        const tested = await hindsight('notifier', 'test', 'cli-discord');
        assert.equal(tested.code, 0, tested.err);
        assert.match(tested.out, /notifier "cli-discord": test message delivered in \d+ ms \(HTTP 204\)/);
      })(),
      (async () => {
        const human = await hindsight('notifier', 'list');
        // By now a later delivery may have failed too: the exact count is the console test's concern.
        assert.match(
          human.out,
          /down-hook .*failing \([1-9]\d* in a row\): notifier "down-hook" \(webhook\): cannot reach/,
        );
        const down = await hindsight('notifier', 'test', 'down-hook');
        assert.equal(down.code, 1);
        assert.match(down.out, /test message not delivered: .*cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
      })(),
      (async () => {
        const badEvent = await hindsight('notifier', 'events', 'cli-discord', 'backup_exploded');
        assert.equal(badEvent.code, 1);
        assert.match(badEvent.err, /notifier "cli-discord" events: 0: event must be one of backup_failed,/);
        const badTelegram = ['--type', 'telegram', '--config', '{"botToken":"x","chatId":1}'];
        const badConfig = await hindsight('notifier', 'add', 'cli-tg', ...badTelegram);
        assert.equal(badConfig.code, 1);
        assert.match(badConfig.err, /notifier "cli-tg": botToken: botToken must look like 123456:ABC-DEF/);
      })(),
      (async () => {
        const overdue = await hindsight('db', 'overdue', 'gone', '26');
        assert.equal(overdue.code, 0, overdue.err);
        assert.match(overdue.out, /database "gone": backup_overdue is sent when no backup completed in 26 h/);
        assert.equal(await platform.runtime.catalog.notifiers.overdueHours('gone'), 26);
        assert.match((await hindsight('db', 'overdue', 'gone', 'off')).out, /no overdue alert/);
        assert.equal(await platform.runtime.catalog.notifiers.overdueHours('gone'), null);
        const zero = await hindsight('db', 'overdue', 'gone', '0');
        assert.equal(zero.code, 1);
        assert.match(zero.err, /hours must be more than 0/);
      })(),
    ]);
    assert.equal((await hindsight('notifier', 'remove', 'cli-discord')).code, 0);
    assert.deepEqual(await platform.runtime.catalog.notifiers.attachedTo('gone'), ['slack']);
  });

  it('keeps every secret out of responses, console pages, catalog rows, delivery records and workflow histories', async () => {
    const shown = JSON.stringify([
      await notifiers.listNotifiers(),
      await notifiers.deliveries({ limit: 500 }),
      consolePages,
    ]);
    const { rows } = await platform.runtime.catalog.pool.query(
      'select config, sealed_secrets, summary, last_error from notifiers',
    );
    const histories: string[] = [];
    for (const id of ['notify/shop', 'notify/gone', 'notify/wide', 'notify/@workspace'])
      histories.push(JSON.stringify(await platform.client.workflow.getHandle(id).fetchHistory()));
    assertNoSecretIn([
      ['responses', shown],
      ['catalog', JSON.stringify(rows)],
      ['histories', histories.join()],
    ]);
  });
});
