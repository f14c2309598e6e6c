/** Checks and set-up steps of the notifications test that read better by name. */
import assert from 'node:assert/strict';
import { targetUrl } from '../../lib/pg/connection.ts';
import type { ReceivedHttp, ReceivedMail } from './notify-receivers.ts';
import { everySecret } from './notifications-fixture.ts';
import { createFilledDatabase, type Platform } from './platform.ts';
import { freePort } from './ports.ts';

/** Each HTTP channel got one request that names the backup and links to the console; Telegram and webhook fields. */
export function assertHttpChannelsHeard(received: ReceivedHttp[], expectedText: RegExp): void {
  for (const channel of ['slack', 'discord', 'teams', 'telegram', 'webhook'] as const) {
    const got = received.filter((r) => r.channel === channel);
    assert.equal(got.length, 1, `${channel}: one request`);
    assert.match(got[0]!.text, expectedText, `${channel} names the backup and the database`);
    assert.match(got[0]!.text, /http:\/\/localhost:3000\/#db-shop/, `${channel} links to the database in the console`);
  }
  const tg = JSON.parse(received.find((r) => r.channel === 'telegram')!.body) as Record<string, unknown>;
  assert.equal(tg.chat_id, -100123);
  assert.equal(tg.message_thread_id, 77);
  const hook = JSON.parse(received.find((r) => r.channel === 'webhook')!.body) as Record<string, string>;
  assert.equal(hook.event, 'backup_succeeded');
  assert.equal(hook.database, 'shop');
}

/** One mail per SMTP server, each addressed and worded alike, sent the way its server asks. */
export function assertMailsHeard(mails: ReceivedMail[], expectedText: RegExp): void {
  assert.deepEqual(mails.map((m) => m.server).sort(), ['auth', 'plain', 'starttls']);
  for (const m of mails) {
    assert.equal(m.from, 'hindsight@example.com');
    assert.deepEqual(m.to, ['dba@example.com', 'oncall@example.com']);
    assert.equal(m.subject, '[Hindsight] Backup succeeded: shop');
    assert.match(m.text, expectedText);
    assert.match(m.text, /http:\/\/localhost:3000\/#db-shop/);
  }
  assert.equal(mails.find((m) => m.server === 'auth')!.user, 'ops', 'authenticated as the configured user');
  assert.equal(
    mails.find((m) => m.server === 'starttls')!.secure,
    true,
    'upgraded with STARTTLS, the self-signed certificate trusted through "ca"',
  );
  assert.equal(mails.find((m) => m.server === 'plain')!.secure, false);
}

/**
 * Database `wide` (300 items) stored in `local` and `broken`, an FTP storage on a port nothing
 * listens on: the copy there fails and each backup ends partial.
 */
export async function addPartiallyStoredDatabase(platform: Platform): Promise<void> {
  await platform.runtime.catalog.upsertStorage('broken', {
    type: 'ftp',
    host: '127.0.0.1',
    port: await freePort(),
    username: 'u',
    password: 'p',
    path: '/backups',
    secure: false,
    allowSelfSignedCertificate: false,
  });
  const itemsSql = 'create table items (id int primary key); insert into items select generate_series(1, 300)';
  const wide = await createFilledDatabase(platform.cluster, 'wide', itemsSql);
  await platform.ops.addDatabase({
    name: 'wide',
    url: targetUrl(wide),
    storages: ['local', 'broken'],
    verifyAfterBackup: true,
  });
}

/** No secret of the receivers appears in any of the texts, as is or base64-encoded. */
export function assertNoSecretIn(places: Array<[string, string]>): void {
  for (const secret of everySecret) {
    for (const [where, text] of places) {
      assert.equal(text.includes(secret), false, `${secret} appears in ${where}`);
      assert.equal(
        text.includes(Buffer.from(secret).toString('base64')),
        false,
        `${secret} appears base64-encoded in ${where}`,
      );
    }
  }
}
