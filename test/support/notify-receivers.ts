import { execFileSync } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface ReceivedHttp {
  channel: 'slack' | 'discord' | 'teams' | 'telegram' | 'webhook';
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** The notification's text as the channel carries it. */
  text: string;
}

export interface HttpReceiverSecrets {
  slackPath: string;
  discordPath: string;
  teamsPath: string;
  telegramToken: string;
  webhookHeader: string;
  webhookSecret: string;
}

const bad = (why: string) => ({ status: 400, body: JSON.stringify({ ok: false, description: `Bad Request: ${why}` }) });

/**
 * One HTTP server standing in for Slack, Discord, Teams, Telegram's Bot API and a webhook
 * receiver. Each path checks the request shape its real counterpart requires and answers the way
 * that counterpart does; a request of the wrong shape is refused with the reason, so a delivery
 * that passes here was shaped right.
 */
export async function startHttpReceiver(secrets: HttpReceiverSecrets) {
  const received: ReceivedHttp[] = [];
  const refused: string[] = [];

  const check = (
    req: IncomingMessage,
    body: string,
  ): { status: number; body: string; got?: Omit<ReceivedHttp, 'method' | 'path' | 'headers' | 'body'> } => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = () => JSON.parse(body) as Record<string, unknown>;
    const isJson = /^application\/json/.test(req.headers['content-type'] ?? '');
    if (req.method !== 'POST') return bad(`method ${req.method}`);
    if (url.pathname === secrets.slackPath) {
      if (!isJson) return bad('slack wants application/json');
      const b = json();
      if (Object.keys(b).join() !== 'text' || typeof b.text !== 'string')
        return bad(`slack body keys ${Object.keys(b).join()}`);
      return { status: 200, body: 'ok', got: { channel: 'slack', text: b.text } };
    }
    if (url.pathname === secrets.discordPath) {
      const b = json();
      if (!isJson || typeof b.content !== 'string' || b.content.length > 2000 || b.content.length === 0)
        return bad('discord wants content of 1..2000 characters');
      return { status: 204, body: '', got: { channel: 'discord', text: b.content } };
    }
    if (`${url.pathname}${url.search}` === secrets.teamsPath) {
      const b = json() as {
        type?: string;
        attachments?: Array<{
          contentType?: string;
          content?: {
            type?: string;
            version?: string;
            body?: Array<{ type: string; text: string }>;
            actions?: Array<{ type: string; url: string }>;
          };
        }>;
      };
      const card = b.attachments?.[0];
      if (
        b.type !== 'message' ||
        b.attachments?.length !== 1 ||
        card?.contentType !== 'application/vnd.microsoft.card.adaptive' ||
        card.content?.type !== 'AdaptiveCard' ||
        !card.content.version ||
        !card.content.body?.every((x) => x.type === 'TextBlock')
      ) {
        return bad('teams wants a message with one Adaptive Card attachment');
      }
      if (!(card.content.actions ?? []).every((a) => a.type === 'Action.OpenUrl' && URL.canParse(a.url)))
        return bad('teams card actions must open URLs');
      const text = [...card.content.body.map((x) => x.text), ...(card.content.actions ?? []).map((a) => a.url)].join(
        '\n',
      );
      return { status: 202, body: '', got: { channel: 'teams', text } };
    }
    if (url.pathname === `/bot${secrets.telegramToken}/sendMessage`) {
      const b = json();
      if (!isJson || b.chat_id === undefined || typeof b.text !== 'string')
        return bad('telegram wants chat_id and text');
      if (b.chat_id === 999) return bad('chat not found');
      if (b.message_thread_id !== 77) return bad(`message_thread_id ${String(b.message_thread_id)}`);
      return {
        status: 200,
        body: JSON.stringify({ ok: true, result: { message_id: received.length + 1 } }),
        got: { channel: 'telegram', text: b.text },
      };
    }
    if (url.pathname === '/hook') {
      if (req.headers['x-api-key'] !== secrets.webhookHeader) return { status: 401, body: 'missing key' };
      // The receiver's own check of the documented scheme: t=<unix>,v1=hex(HMAC-SHA256(secret, t + "." + body)).
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-hindsight-signature'] ?? ''));
      if (!m) return { status: 401, body: 'no signature' };
      const expected = createHmac('sha256', secrets.webhookSecret).update(`${m[1]}.${body}`).digest();
      if (!timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')) || Math.abs(Date.now() / 1000 - Number(m[1])) > 300)
        return { status: 401, body: 'bad signature' };
      if (!isJson) return bad('webhook wants json');
      const b = json();
      return {
        status: 200,
        body: '{"received":true}',
        got: {
          channel: 'webhook',
          text: `${String(b.event)} ${String(b.database)} ${String(b.message)} ${String(b.link)}`,
        },
      };
    }
    return { status: 404, body: 'no such hook' };
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let answer: ReturnType<typeof check>;
      try {
        answer = check(req, body);
      } catch (error) {
        answer = bad(`unreadable body: ${(error as Error).message}`);
      }
      if (answer.got)
        received.push({ ...answer.got, method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      else refused.push(`${req.method} ${req.url}: ${answer.body}`);
      res
        .writeHead(answer.status, { 'content-type': answer.body.startsWith('{') ? 'application/json' : 'text/plain' })
        .end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface ReceivedMail {
  server: string;
  from: string;
  to: string[];
  user: string | null;
  secure: boolean;
  subject: string;
  text: string;
}

/** A self-signed certificate for 127.0.0.1, made by openssl for this test run. */
export function selfSignedCert(dir: string): { key: string; cert: string } {
  const key = path.join(dir, 'smtp.key');
  const cert = path.join(dir, 'smtp.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

function decodeQuotedPrintable(text: string): string {
  return Buffer.from(
    text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
}

/** A real SMTP server (npm smtp-server) on 127.0.0.1 that keeps what it receives. */
export async function startSmtpServer(name: string, options: SMTPServerOptions, received: ReceivedMail[]) {
  const server = new SMTPServer({
    logger: false,
    // A client that gave up mid-handshake (the untrusted-certificate case) must not hold close() for the default 30 s.
    closeTimeout: 1000,
    ...options,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const [head = '', ...rest] = raw.split(/\r?\n\r?\n/);
        const subject = /^Subject: (.*(?:\r?\n\s.*)*)/m.exec(head)?.[1]?.replace(/\r?\n\s/g, ' ') ?? '';
        const body = rest.join('\n\n');
        received.push({
          server: name,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: (session.user as string | undefined) ?? null,
          secure: session.secure,
          subject,
          text: /quoted-printable/i.test(head) ? decodeQuotedPrintable(body) : body,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * An SMTP server named `auth` that takes only user `ops` with `password`, over plain text: the
 * notifier must send its credentials, and a wrong password must be refused as a real server would.
 */
export function startAuthSmtpServer(password: string, received: ReceivedMail[]) {
  return startSmtpServer(
    'auth',
    {
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(a, _s, cb) {
        if (a.username === 'ops' && a.password === password) cb(null, { user: 'ops' });
        else cb(new Error('Invalid username or password'));
      },
    },
    received,
  );
}
