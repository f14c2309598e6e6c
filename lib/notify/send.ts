import nodemailer from 'nodemailer';
import { HindsightError, type ErrorKind } from '../errors.ts';
import type { NotifierConfig } from './config.ts';
import {
  DEFAULT_WEBHOOK_TEMPLATE,
  SIGNATURE_HEADER,
  headline,
  plainText,
  renderTemplate,
  signPayload,
  templateFields,
  type OutgoingNotification,
} from './render.ts';

const TIMEOUT_MS = 15_000;

/** What a receiver said, for the delivery record and the "send test" answer. */
export interface SendResult {
  /** e.g. "HTTP 200" or the SMTP server's reply. */
  response: string;
}

/** The HTTP request a channel makes; built apart from sending so that its shape is testable. */
export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

const json = (value: unknown) => JSON.stringify(value);
const jsonHeaders = { 'content-type': 'application/json', 'user-agent': 'Hindsight' };

/** Slack incoming webhook: `text` is the fallback and the notification; mrkdwn renders the link. */
export function slackRequest(url: string, n: OutgoingNotification): HttpRequestSpec {
  const text = `*${headline(n)}*\n${n.message}\n<${n.link}|Open in Hindsight>`;
  return { method: 'POST', url, headers: jsonHeaders, body: json({ text }) };
}

/** Discord webhook: `content` (at most 2000 characters); mentions in a message never ping anyone. */
export function discordRequest(url: string, n: OutgoingNotification): HttpRequestSpec {
  const content = `**${headline(n)}**\n${n.message}\n${n.link}`.slice(0, 2000);
  return {
    method: 'POST',
    url,
    headers: jsonHeaders,
    body: json({ username: 'Hindsight', content, allowed_mentions: { parse: [] } }),
  };
}

/** Teams (Workflows "post to a channel when a webhook request is received", or a legacy connector): an Adaptive Card message. */
export function teamsRequest(url: string, n: OutgoingNotification): HttpRequestSpec {
  const card = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      { type: 'TextBlock', text: headline(n), weight: 'Bolder', size: 'Medium', wrap: true },
      { type: 'TextBlock', text: n.message, wrap: true },
      { type: 'TextBlock', text: n.time.toISOString(), isSubtle: true, spacing: 'None', size: 'Small' },
    ],
    actions: [{ type: 'Action.OpenUrl', title: 'Open in Hindsight', url: n.link }],
  };
  return {
    method: 'POST',
    url,
    headers: jsonHeaders,
    body: json({
      type: 'message',
      attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }],
    }),
  };
}

/** Telegram Bot API sendMessage, plain text (no parse_mode: a message can hold any character). */
export function telegramRequest(
  config: Extract<NotifierConfig, { type: 'telegram' }>,
  n: OutgoingNotification,
): HttpRequestSpec {
  const body: Record<string, unknown> = {
    chat_id: config.chatId,
    text: `${headline(n)}\n${plainText(n)}`.slice(0, 4096),
    link_preview_options: { is_disabled: true },
  };
  if (config.messageThreadId !== undefined) body.message_thread_id = config.messageThreadId;
  return {
    method: 'POST',
    url: `${config.apiBaseUrl.replace(/\/+$/, '')}/bot${config.botToken}/sendMessage`,
    headers: jsonHeaders,
    body: json(body),
  };
}

/**
 * The generic webhook. POST sends the rendered template (JSON by default); GET sends the fields as
 * query parameters. With a secret, the body (POST) or the query string (GET) is signed.
 */
export function webhookRequest(
  config: Extract<NotifierConfig, { type: 'webhook' }>,
  n: OutgoingNotification,
  unixSeconds: number,
): HttpRequestSpec {
  const fields = templateFields(n);
  const headers: Record<string, string> = { 'user-agent': 'Hindsight' };
  const custom = Object.fromEntries(Object.entries(config.headers).map(([k, v]) => [k.toLowerCase(), v]));
  let url = config.url;
  let body: string | undefined;
  let signed: string;
  if (config.method === 'GET') {
    const target = new URL(config.url);
    for (const [k, v] of Object.entries(fields)) target.searchParams.set(k, v);
    url = target.toString();
    signed = target.search.replace(/^\?/, '');
  } else {
    const contentType =
      custom['content-type'] ??
      (config.bodyTemplate === undefined || looksLikeJson(config.bodyTemplate)
        ? 'application/json'
        : 'text/plain; charset=utf-8');
    headers['content-type'] = contentType;
    body = renderTemplate(
      config.bodyTemplate ?? DEFAULT_WEBHOOK_TEMPLATE,
      fields,
      /json/i.test(contentType) ? 'json' : 'none',
    );
    signed = body;
  }
  Object.assign(headers, custom);
  if (config.secret) headers[SIGNATURE_HEADER.toLowerCase()] = signPayload(config.secret, signed, unixSeconds);
  return { method: config.method, url, headers, ...(body !== undefined ? { body } : {}) };
}

const looksLikeJson = (template: string) => /^\s*[[{]/.test(template);

/** An HTTP status as an error kind: 4xx is the configuration's fault (not retried) except 408 and 429. */
function kindOfStatus(status: number): ErrorKind {
  if (status === 401 || status === 403) return 'access_denied';
  if (status === 404 || status === 410) return 'not_found';
  if (status === 408 || status === 429 || status >= 500) return 'unreachable';
  return 'bad_input';
}

const hints: Partial<Record<ErrorKind, string>> = {
  access_denied: 'check the token or credentials',
  not_found: 'check the URL: the webhook or chat may have been deleted',
  bad_input: 'the receiver refused the request; check the notifier settings',
  unreachable: 'the receiver is down or unreachable; it is retried',
};

/** Sends one HTTP request; the error names the host, never the URL (its path may hold a token). */
export async function sendHttp(label: string, spec: HttpRequestSpec): Promise<SendResult> {
  const host = new URL(spec.url).host;
  let response: Response;
  try {
    response = await fetch(spec.url, {
      method: spec.method,
      headers: spec.headers,
      body: spec.body,
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : (cause?.code ?? cause?.message ?? (error as Error).message);
    throw new HindsightError('unreachable', `${label}: cannot reach ${host} (${why}); ${hints.unreachable}`);
  }
  const text = (await response.text().catch(() => '')).slice(0, 300);
  if (!response.ok) {
    const kind = kindOfStatus(response.status);
    throw new HindsightError(
      kind,
      `${label}: ${host} answered HTTP ${response.status}${receiverReason(text)}; ${hints[kind]}`,
    );
  }
  // Telegram answers 200 with ok:false only in theory, but a proxy in front of it may not.
  if (/"ok"\s*:\s*false/.test(text))
    throw new HindsightError('bad_input', `${label}: ${host} refused the message${receiverReason(text)}`);
  return { response: `HTTP ${response.status}` };
}

/** The receiver's own words: Slack says "invalid_token", Telegram {"description": "Bad Request: chat not found"}. */
function receiverReason(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  try {
    const parsed = JSON.parse(trimmed) as { description?: string; message?: string; error?: unknown };
    const reason =
      parsed.description ?? parsed.message ?? (typeof parsed.error === 'string' ? parsed.error : undefined);
    if (reason) return ` (${reason})`;
  } catch {
    /* not JSON: plain text below */
  }
  return ` (${trimmed.replace(/\s+/g, ' ').slice(0, 200)})`;
}

function smtpKind(code: string | undefined, responseCode: number | undefined): ErrorKind {
  if (code === 'EAUTH' || code === 'ENOAUTH' || responseCode === 535 || responseCode === 530) return 'access_denied';
  if (code === 'EENVELOPE' || code === 'EMESSAGE' || (responseCode !== undefined && responseCode >= 500))
    return 'bad_input';
  return 'unreachable';
}

/** One mail through an email notifier's SMTP server; a failure names the server and the fix, never a secret. */
export async function sendMail(
  label: string,
  config: Extract<NotifierConfig, { type: 'email' }>,
  mail: { to: string[]; subject: string; text: string; headers?: Record<string, string> },
): Promise<SendResult> {
  const transport = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.secure,
    requireTLS: config.starttls === 'required',
    ignoreTLS: config.starttls === 'off',
    ...(config.auth ? { auth: { user: config.auth.user, pass: config.auth.pass } } : {}),
    ...(config.ca ? { tls: { ca: config.ca } } : {}),
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
  });
  try {
    const info = await transport.sendMail({ from: config.from, ...mail });
    return { response: String(info.response ?? 'accepted') };
  } catch (error) {
    const e = error as { code?: string; responseCode?: number; response?: string; message?: string };
    const detail = e.response ?? e.message ?? String(error);
    const tlsProblem = /certificate|self[- ]signed|unable to verify/i.test(detail);
    const kind = tlsProblem ? 'access_denied' : smtpKind(e.code, e.responseCode);
    const hint = tlsProblem
      ? 'the server\'s certificate is not trusted: give its CA as "ca"'
      : kind === 'access_denied'
        ? 'check auth.user and auth.pass'
        : hints[kind];
    throw new HindsightError(
      kind,
      `${label}: SMTP ${config.host}:${config.port} failed${e.code ? ` (${e.code})` : ''}: ${detail.replace(/\s+/g, ' ').slice(0, 300)}; ${hint}`,
    );
  } finally {
    transport.close();
  }
}

export async function sendEmail(
  label: string,
  config: Extract<NotifierConfig, { type: 'email' }>,
  n: OutgoingNotification,
): Promise<SendResult> {
  return sendMail(label, config, {
    to: config.to,
    subject: `[Hindsight] ${headline(n)}`,
    text: `${n.message}\n\n${n.link}\n\n${n.time.toISOString()}\n`,
    headers: { 'X-Hindsight-Event': n.event },
  });
}

/** Delivers one notification through one notifier; a failure is a HindsightError whose kind says whether retrying can help. */
export async function sendNotification(
  name: string,
  config: NotifierConfig,
  n: OutgoingNotification,
  now: Date = new Date(),
): Promise<SendResult> {
  const label = `notifier "${name}" (${config.type})`;
  switch (config.type) {
    case 'email':
      return sendEmail(label, config, n);
    case 'slack':
      return sendHttp(label, slackRequest(config.url, n));
    case 'discord':
      return sendHttp(label, discordRequest(config.url, n));
    case 'teams':
      return sendHttp(label, teamsRequest(config.url, n));
    case 'telegram':
      return sendHttp(label, telegramRequest(config, n));
    case 'webhook':
      return sendHttp(label, webhookRequest(config, n, Math.floor(now.getTime() / 1000)));
  }
}
