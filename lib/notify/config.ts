import { z } from 'zod';
import { NAME_RULE, nameSchema } from '../names.ts';
import { splitSecretFields, type SplitConfig } from '../secret-fields.ts';

/** Every event a notifier can be told about; producers queue exactly these names. */
export const notificationEvents = [
  'backup_failed',
  'backup_succeeded',
  'backup_partial',
  'verification_failed',
  'verification_succeeded',
  'database_down',
  'database_up',
  'wal_chain_broken',
  'wal_slot_bloat',
  'wal_slot_dropped',
  'backup_overdue',
  'database_discovered',
  'database_dropped',
  'pitr_drill_failed',
] as const;
export type NotificationEvent = (typeof notificationEvents)[number];
export const notificationEventSchema = z.enum(notificationEvents, {
  error: `event must be one of ${notificationEvents.join(', ')}`,
});

/** What a new notifier hears about unless told otherwise: trouble and recovery, not routine success. */
export const defaultNotifierEvents: NotificationEvent[] = notificationEvents.filter((e) => !e.endsWith('_succeeded'));

export const notifierNameSchema = nameSchema(`notifier name must be ${NAME_RULE}`);

const httpUrl = (what: string) =>
  z
    .string({ error: `${what} is required` })
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), `${what} must be an http(s) URL`);

export const emailNotifierConfig = z
  .object({
    type: z.literal('email'),
    host: z.string().min(1, 'host is required'),
    port: z.number().int().min(1).max(65535).default(587),
    /** TLS from the first byte (SMTPS, usually port 465). */
    secure: z.boolean().default(false),
    /** On a plain connection: `required` refuses a server without STARTTLS, `optional` upgrades when offered, `off` never does. */
    starttls: z.enum(['required', 'optional', 'off']).default('optional'),
    /** A PEM certificate (or chain) to trust besides the system's, for a server with a private CA. */
    ca: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'ca must be a PEM certificate' }).optional(),
    auth: z
      .object({ user: z.string().min(1, 'auth.user is required'), pass: z.string().min(1, 'auth.pass is required') })
      .strict()
      .optional(),
    from: z.string().min(3, 'from is required (an address such as hindsight@example.com)'),
    to: z
      .array(z.string().regex(/^[^\s@]+@[^\s@]+$/, 'each to address must look like name@example.com'))
      .min(1, 'to needs at least one address'),
  })
  .strict()
  .refine(
    (c) => !(c.secure && c.starttls === 'required'),
    'secure (TLS from the start) and starttls "required" exclude each other: choose one',
  );

export const slackNotifierConfig = z
  .object({ type: z.literal('slack'), url: httpUrl('url (the incoming webhook URL)') })
  .strict();
export const discordNotifierConfig = z
  .object({ type: z.literal('discord'), url: httpUrl('url (the webhook URL)') })
  .strict();
export const teamsNotifierConfig = z
  .object({ type: z.literal('teams'), url: httpUrl('url (the workflow or incoming webhook URL)') })
  .strict();

export const telegramNotifierConfig = z
  .object({
    type: z.literal('telegram'),
    botToken: z.string().regex(/^\d+:[A-Za-z0-9_-]+$/, 'botToken must look like 123456:ABC-DEF (from @BotFather)'),
    chatId: z.union([
      z.number().int(),
      z.string().regex(/^(-?\d+|@[A-Za-z0-9_]{4,})$/, 'chatId must be a number or @channelname'),
    ]),
    /** The topic of a forum supergroup. */
    messageThreadId: z.number().int().positive().optional(),
    apiBaseUrl: httpUrl('apiBaseUrl').default('https://api.telegram.org'),
  })
  .strict();

export const webhookNotifierConfig = z
  .object({
    type: z.literal('webhook'),
    url: httpUrl('url'),
    method: z.enum(['GET', 'POST']).default('POST'),
    headers: z
      .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'header names must be HTTP tokens'), z.string())
      .default({}),
    /** The POST body; {{event}} {{database}} {{message}} {{link}} {{time}} are replaced (JSON-escaped when the body is JSON). */
    bodyTemplate: z.string().optional(),
    /** Signs every request: X-Hindsight-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + payload)>. */
    secret: z.string().min(16, 'secret must be at least 16 characters').optional(),
  })
  .strict();

/** Notifier configurations, one variant per channel. */
export const notifierConfigSchema = z.discriminatedUnion('type', [
  emailNotifierConfig,
  slackNotifierConfig,
  discordNotifierConfig,
  teamsNotifierConfig,
  telegramNotifierConfig,
  webhookNotifierConfig,
]);
export type NotifierConfig = z.output<typeof notifierConfigSchema>;
export type NotifierType = NotifierConfig['type'];
export const notifierTypes: NotifierType[] = ['email', 'slack', 'discord', 'teams', 'telegram', 'webhook'];

/**
 * Fields sealed with the secret key and never shown: SMTP credentials, webhook URLs that carry their
 * token in the path, the bot token, the HMAC secret and custom header values (often API keys).
 */
const secretFields: Record<NotifierType, readonly string[]> = {
  email: ['auth'],
  slack: ['url'],
  discord: ['url'],
  teams: ['url'],
  telegram: ['botToken'],
  webhook: ['url', 'headers', 'secret'],
};

export function splitNotifierSecrets(config: NotifierConfig): SplitConfig {
  return splitSecretFields(config, secretFields[config.type]);
}

export function joinNotifierSecrets(settings: Record<string, unknown>, secrets: Record<string, unknown>): unknown {
  return { ...settings, ...secrets };
}

/** Where a notifier sends, without its secrets: what the CLI and console show. */
export function describeNotifier(config: NotifierConfig): string {
  const host = (u: string) => new URL(u).host;
  switch (config.type) {
    case 'email':
      return `${config.auth ? `${config.auth.user}@` : ''}${config.host}:${config.port} → ${config.to.join(', ')}`;
    case 'slack':
    case 'discord':
    case 'teams':
      return host(config.url);
    case 'telegram':
      return `chat ${config.chatId}${config.messageThreadId ? ` topic ${config.messageThreadId}` : ''} via ${host(config.apiBaseUrl)}`;
    case 'webhook':
      return `${config.method} ${host(config.url)}${config.secret ? ' (signed)' : ''}`;
  }
}
