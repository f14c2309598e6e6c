import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NotificationEvent } from './config.ts';

/** One notification as every channel renders it. */
export interface OutgoingNotification {
  event: NotificationEvent | string;
  database: string | null;
  /** Short: names the database and the cause. */
  message: string;
  /** The database's place in the console (or the console itself). */
  link: string;
  time: Date;
}

const titles: Record<string, string> = {
  backup_failed: 'Backup failed',
  backup_succeeded: 'Backup succeeded',
  backup_partial: 'Backup partial',
  verification_failed: 'Verification failed',
  verification_succeeded: 'Verification succeeded',
  database_down: 'Database down',
  database_up: 'Database up',
  wal_chain_broken: 'WAL chain broken',
  wal_slot_bloat: 'Replication slot bloat',
  wal_slot_dropped: 'Replication slot dropped',
  backup_overdue: 'Backup overdue',
  database_discovered: 'Database discovered',
  database_dropped: 'Database dropped',
  test: 'Test message',
};

export function eventTitle(event: string): string {
  return titles[event] ?? event;
}

/** The console page of a database: the overview, scrolled to its card. */
export function consoleLink(publicUrl: string, database: string | null): string {
  const base = publicUrl.replace(/\/+$/, '');
  return database ? `${base}/#db-${encodeURIComponent(database)}` : `${base}/`;
}

/** Subject and first line: what happened, to which database. */
export function headline(n: OutgoingNotification): string {
  return `${eventTitle(n.event)}${n.database ? `: ${n.database}` : ''}`;
}

/** The plain text every channel sends: the message, then the link. */
export function plainText(n: OutgoingNotification): string {
  return `${n.message}\n${n.link}`;
}

export type TemplateFields = Record<'event' | 'database' | 'message' | 'link' | 'time', string>;

export function templateFields(n: OutgoingNotification): TemplateFields {
  return { event: n.event, database: n.database ?? '', message: n.message, link: n.link, time: n.time.toISOString() };
}

/**
 * Replaces {{event}} {{database}} {{message}} {{link}} {{time}} (spaces inside the braces allowed).
 * In a JSON body each value is escaped as the inside of a JSON string, so a quote in a message can
 * never break the document or inject fields; an unknown placeholder is left as written.
 */
export function renderTemplate(template: string, fields: TemplateFields, escape: 'json' | 'none'): string {
  return template.replace(/\{\{\s*(event|database|message|link|time)\s*\}\}/g, (_m, name: keyof TemplateFields) => {
    const value = fields[name];
    return escape === 'json' ? JSON.stringify(value).slice(1, -1) : value;
  });
}

export const DEFAULT_WEBHOOK_TEMPLATE =
  '{"event":"{{event}}","database":"{{database}}","message":"{{message}}","link":"{{link}}","time":"{{time}}"}';

export const SIGNATURE_HEADER = 'X-Hindsight-Signature';

/**
 * The webhook signature, after Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
 * "<t>.<payload>")>`, where the payload is the body of a POST or the query string of a GET. The
 * timestamp inside the signed text lets receivers refuse replays older than a few minutes.
 */
export function signPayload(secret: string, payload: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${payload}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** What a receiver does (and what the tests do): recompute and compare in constant time. */
export function verifySignature(
  secret: string,
  payload: string,
  header: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signPayload(secret, payload, t).split('v1=')[1]!, 'hex');
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
