import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadConfig } from '../../lib/config.ts';
import {
  describeNotifier,
  joinNotifierSecrets,
  notifierConfigSchema,
  splitNotifierSecrets,
} from '../../lib/notify/config.ts';
import {
  consoleLink,
  renderTemplate,
  signPayload,
  templateFields,
  verifySignature,
  type OutgoingNotification,
} from '../../lib/notify/render.ts';
import { discordRequest, slackRequest, teamsRequest, telegramRequest, webhookRequest } from '../../lib/notify/send.ts';

const n: OutgoingNotification = {
  event: 'backup_failed',
  database: 'shop',
  message: 'backup 20261123T103000Z-3f9a1c of database "shop" failed: permission denied for table "orders"\nnext line',
  link: 'http://console.example:3000/#db-shop',
  time: new Date('2026-11-23T10:30:00.000Z'),
};

/** An independent HMAC, as a receiver would compute it from the documented scheme. */
const hmacHex = (secret: string, text: string) => createHmac('sha256', secret).update(text).digest('hex');

const SECRET = 'sixteen-chars-secret';
/** A webhook notifier with these settings, signed with SECRET, as the schema parses it. */
function webhookConfig(settings: Record<string, unknown>) {
  const config = notifierConfigSchema.parse({ type: 'webhook', secret: SECRET, ...settings });
  assert.equal(config.type, 'webhook');
  if (config.type !== 'webhook') throw new Error('webhook expected');
  return config;
}

describe('notification messages', () => {
  it('links to the database in the console at HINDSIGHT_PUBLIC_URL (default http://localhost:3000)', () => {
    assert.equal(loadConfig({}).publicUrl, 'http://localhost:3000');
    assert.equal(
      loadConfig({ HINDSIGHT_PUBLIC_URL: 'https://backups.example.com/' }).publicUrl,
      'https://backups.example.com',
    );
    assert.throws(() => loadConfig({ HINDSIGHT_PUBLIC_URL: 'ftp://x' }), /HINDSIGHT_PUBLIC_URL/);
    assert.equal(consoleLink('https://b.example.com', 'shop'), 'https://b.example.com/#db-shop');
    assert.equal(consoleLink('https://b.example.com/', null), 'https://b.example.com/');
  });

  it('renders a JSON template with every field escaped, so a quote cannot break or extend the document', () => {
    const template =
      '{"e":"{{event}}","d":"{{ database }}","m":"{{message}}","l":"{{link}}","t":"{{time}}","x":"{{unknown}}"}';
    const evil: OutgoingNotification = { ...n, message: 'a "quoted" \\ message","admin":true,"' };
    const body = JSON.parse(renderTemplate(template, templateFields(evil), 'json')) as Record<string, string>;
    assert.deepEqual(body, {
      e: 'backup_failed',
      d: 'shop',
      m: evil.message,
      l: n.link,
      t: '2026-11-23T10:30:00.000Z',
      x: '{{unknown}}',
    });
    assert.equal(renderTemplate('{{database}}: {{message}}', templateFields(n), 'none'), `shop: ${n.message}`);
  });

  it('signs t + "." + payload with HMAC-SHA256 and verifies only the exact payload, secret and fresh time', () => {
    const header = signPayload('s3cret-s3cret-s3cret', '{"a":1}', 1_700_000_000);
    assert.equal(header, `t=1700000000,v1=${hmacHex('s3cret-s3cret-s3cret', '1700000000.{"a":1}')}`);
    assert.equal(verifySignature('s3cret-s3cret-s3cret', '{"a":1}', header, 1_700_000_100), true);
    assert.equal(verifySignature('s3cret-s3cret-s3cret', '{"a":2}', header, 1_700_000_100), false, 'another body');
    assert.equal(verifySignature('another-secret-xxxx', '{"a":1}', header, 1_700_000_100), false, 'another secret');
    assert.equal(
      verifySignature('s3cret-s3cret-s3cret', '{"a":1}', header, 1_700_000_000 + 301),
      false,
      'a replay after five minutes',
    );
  });

  it('shapes a POST webhook: custom headers, the rendered body, and a signature of that body', () => {
    const config = webhookConfig({ url: 'https://hooks.example.com/in?k=1', headers: { 'X-Api-Key': 'abc' } });
    const req = webhookRequest(config, n, 1_800_000_000);
    assert.equal(req.method, 'POST');
    assert.equal(req.url, 'https://hooks.example.com/in?k=1');
    assert.equal(req.headers['x-api-key'], 'abc');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(req.body!), {
      event: 'backup_failed',
      database: 'shop',
      message: n.message,
      link: n.link,
      time: '2026-11-23T10:30:00.000Z',
    });
    assert.equal(req.headers['x-hindsight-signature'], `t=1800000000,v1=${hmacHex(SECRET, `1800000000.${req.body}`)}`);
  });

  it('shapes a GET webhook: the fields as query parameters, the query string signed', () => {
    const config = webhookConfig({ method: 'GET', url: 'https://hooks.example.com/in' });
    const req = webhookRequest(config, n, 1_800_000_000);
    const url = new URL(req.url);
    assert.equal(req.body, undefined);
    assert.equal(url.searchParams.get('message'), n.message);
    assert.equal(url.searchParams.get('database'), 'shop');
    assert.equal(
      req.headers['x-hindsight-signature'],
      `t=1800000000,v1=${hmacHex(SECRET, `1800000000.${url.search.slice(1)}`)}`,
    );
  });

  it('shapes Slack, Discord, Teams and Telegram requests as their APIs expect', () => {
    const slack = JSON.parse(slackRequest('https://hooks.slack.com/services/T/B/X', n).body!) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(slack), ['text']);
    assert.match(
      String(slack.text),
      /^\*Backup failed: shop\*\n.*permission denied.*\n<http:\/\/console\.example:3000\/#db-shop\|Open in Hindsight>$/s,
    );
    const discord = JSON.parse(
      discordRequest('https://discord.com/api/webhooks/1/x', { ...n, message: 'x'.repeat(5000) }).body!,
    ) as { content: string; allowed_mentions: unknown };
    assert.equal(discord.content.length, 2000, 'Discord refuses content over 2000 characters');
    assert.deepEqual(discord.allowed_mentions, { parse: [] });
    const teams = JSON.parse(teamsRequest('https://x.logic.azure.com/workflows/1', n).body!) as {
      type: string;
      attachments: Array<{
        contentType: string;
        content: { type: string; version: string; body: Array<{ text: string }>; actions: Array<{ url: string }> };
      }>;
    };
    assert.equal(teams.type, 'message');
    assert.equal(teams.attachments[0]!.contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(teams.attachments[0]!.content.type, 'AdaptiveCard');
    assert.equal(teams.attachments[0]!.content.body[1]!.text, n.message);
    assert.equal(teams.attachments[0]!.content.actions[0]!.url, n.link);
    const tg = notifierConfigSchema.parse({
      type: 'telegram',
      botToken: '123456:ABC-def_9',
      chatId: -1001234,
      messageThreadId: 7,
    });
    if (tg.type !== 'telegram') return assert.fail('telegram expected');
    const req = telegramRequest(tg, n);
    assert.equal(req.url, 'https://api.telegram.org/bot123456:ABC-def_9/sendMessage');
    const body = JSON.parse(req.body!) as Record<string, unknown>;
    assert.equal(body.chat_id, -1001234);
    assert.equal(body.message_thread_id, 7);
    assert.match(String(body.text), /^Backup failed: shop\n.*permission denied/s);
  });

  it('keeps secrets out of the stored settings and the summary', () => {
    const email = notifierConfigSchema.parse({
      type: 'email',
      host: 'smtp.example.com',
      auth: { user: 'ops', pass: 'hunter2-pass' },
      from: 'h@example.com',
      to: ['a@example.com'],
    });
    const { settings, secrets } = splitNotifierSecrets(email);
    assert.deepEqual(secrets, { auth: { user: 'ops', pass: 'hunter2-pass' } });
    assert.equal(JSON.stringify(settings).includes('hunter2'), false);
    assert.deepEqual(notifierConfigSchema.parse(joinNotifierSecrets(settings, secrets)), email);
    const slack = notifierConfigSchema.parse({
      type: 'slack',
      url: 'https://hooks.slack.com/services/T0/B0/tokentoken',
    });
    assert.equal(describeNotifier(slack), 'hooks.slack.com');
    assert.deepEqual(splitNotifierSecrets(slack).settings, { type: 'slack' });
    const hook = webhookConfig({ url: 'https://h.example.com/x?token=abc', headers: { Authorization: 'Bearer zzz' } });
    assert.equal(JSON.stringify(splitNotifierSecrets(hook).settings).match(/abc|zzz|sixteen/), null);
  });

  it('names the bad field of a notifier configuration', () => {
    const problems = (value: unknown) => {
      const parsed = notifierConfigSchema.safeParse(value);
      assert.equal(parsed.success, false);
      return parsed.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    assert.match(
      problems({ type: 'telegram', botToken: 'nope', chatId: 1 }),
      /botToken: botToken must look like 123456:ABC-DEF/,
    );
    assert.match(
      problems({ type: 'slack', url: 'ftp://x' }),
      /url: url \(the incoming webhook URL\) must be an http\(s\) URL/,
    );
    assert.match(
      problems({ type: 'email', host: 'h', from: 'a@b.c', to: ['not-an-address'] }),
      /to\.0: each to address/,
    );
    assert.match(
      problems({ type: 'email', host: 'h', from: 'a@b.c', to: ['a@b.c'], secure: true, starttls: 'required' }),
      /exclude each other/,
    );
    assert.match(problems({ type: 'pager' }), /type/);
  });
});
