/**
 * The receivers of the notifications test and the notifiers that reach them: Slack, Discord,
 * Teams, Telegram and a signed webhook on one HTTP receiver, three SMTP servers (plain, with
 * auth, with STARTTLS), and a webhook to a port nothing listens on.
 */
import type { DeliveryRecord } from '../../lib/catalog/notifiers.ts';
import type { NotifierOperations } from '../../services/notifiers/work.ts';
import {
  selfSignedCert,
  startAuthSmtpServer,
  startHttpReceiver,
  startSmtpServer,
  type ReceivedMail,
} from './notify-receivers.ts';
import { waitFor } from './wait.ts';

export const secrets = {
  slackPath: '/slack/services/T0SLACK/B0SLACK/slack-token-5e1f9a',
  discordPath: '/discord/api/webhooks/4242/discord-token-77c0de',
  teamsPath: '/teams/workflows/abc/triggers/manual/run?sig=teams-token-a1b2c3',
  telegramToken: '123456:TG-bot-token_9f8e7d',
  webhookHeader: 'hook-header-value-0b5e55',
  webhookSecret: 'hook-hmac-secret-4d3c2b1a',
};
const smtpPass = 'smtp-password-6a7b8c';
export const everySecret = [...Object.values(secrets).map((s) => s.replace(/^.*\//, '').replace(/^.*=/, '')), smtpPass];
const events = ['backup_failed', 'backup_succeeded', 'backup_partial', 'database_down', 'backup_overdue'];
export const httpNotifiers = ['slack', 'discord', 'teams', 'telegram', 'hook'];
export const mailNotifiers = ['mail-plain', 'mail-auth', 'mail-starttls'];

export interface Receivers {
  http: Awaited<ReturnType<typeof startHttpReceiver>>;
  smtp: { plain: number; auth: number; starttls: number };
  /** The certificate the STARTTLS server presents, trusted by `mail-starttls` through "ca". */
  cert: string;
  /** A free port nothing listens on. */
  downPort: number;
}

/**
 * Where the down receiver is: a port nothing listens on. A free port found and released would do only until
 * another test's server (Temporal's UI once answered 404 there) is given it; a port below 1024 is never handed
 * out as an ephemeral one. Not 9 or another of the ports fetch refuses to dial ("bad port"): the test needs the
 * refused connection itself.
 */
const DOWN_PORT = 4;

/** Starts every receiver, pushing each one's close onto `closers`; mails land in `mails`. */
export async function startReceivers(
  dir: string,
  mails: ReceivedMail[],
  closers: Array<() => Promise<void>>,
): Promise<Receivers> {
  const http = await startHttpReceiver(secrets);
  closers.push(http.close);
  const { key, cert } = selfSignedCert(dir);
  const plain = await startSmtpServer('plain', { authOptional: true, disabledCommands: ['STARTTLS'] }, mails);
  const auth = await startAuthSmtpServer(smtpPass, mails);
  const starttls = await startSmtpServer('starttls', { authOptional: true, key, cert }, mails);
  closers.push(plain.close, auth.close, starttls.close);
  const smtp = { plain: plain.port, auth: auth.port, starttls: starttls.port };
  return { http, smtp, cert, downPort: DOWN_PORT };
}

/** The signed webhook, with its header and HMAC secret. */
export const signedHook = (httpUrl: string) => ({
  type: 'webhook',
  url: `${httpUrl}/hook`,
  headers: { 'X-Api-Key': secrets.webhookHeader },
  secret: secrets.webhookSecret,
});

/** One notifier per channel to its receiver, plus `down-hook` to the port nothing listens on. */
export async function saveChannelNotifiers(notifiers: NotifierOperations, r: Receivers): Promise<void> {
  const { http, smtp } = r;
  const mail = (port: number) => ({
    type: 'email',
    host: '127.0.0.1',
    port,
    from: 'hindsight@example.com',
    to: ['dba@example.com', 'oncall@example.com'],
  });
  await notifiers.saveNotifier('mail-plain', mail(smtp.plain), events);
  await notifiers.saveNotifier('mail-auth', { ...mail(smtp.auth), auth: { user: 'ops', pass: smtpPass } }, events);
  await notifiers.saveNotifier('mail-starttls', { ...mail(smtp.starttls), starttls: 'required', ca: r.cert }, events);
  await notifiers.saveNotifier('slack', { type: 'slack', url: `${http.url}${secrets.slackPath}` }, events);
  await notifiers.saveNotifier('discord', { type: 'discord', url: `${http.url}${secrets.discordPath}` }, events);
  await notifiers.saveNotifier('teams', { type: 'teams', url: `${http.url}${secrets.teamsPath}` }, events);
  const telegram = { botToken: secrets.telegramToken, chatId: -100123, messageThreadId: 77, apiBaseUrl: http.url };
  await notifiers.saveNotifier('telegram', { type: 'telegram', ...telegram }, events);
  await notifiers.saveNotifier('hook', signedHook(http.url), events);
  await notifiers.saveNotifier('down-hook', { type: 'webhook', url: `http://127.0.0.1:${r.downPort}/hook` }, events);
}

/** Waits until exactly `count` deliveries of `event` for `database` are sent, and returns them. */
export function waitForSent(
  notifiers: NotifierOperations,
  what: string,
  [database, event, count]: [string, string, number],
  timeoutMs: number,
  intervalMs?: number,
): Promise<DeliveryRecord[]> {
  return waitFor(
    what,
    async () => {
      const all = await notifiers.deliveries({ database, limit: 500 });
      const d = all.filter((x) => x.event === event).filter((x) => x.status === 'sent');
      return d.length === count ? d : undefined;
    },
    timeoutMs,
    intervalMs,
  );
}
