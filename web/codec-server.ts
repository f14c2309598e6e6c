import { timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The bearer token callers must present; the endpoint answers 404 when there is none. */
  token: string | undefined;
  /** The one other browser origin allowed to call it: the Temporal UI served on its own port. */
  corsOrigin: string;
  /** The console's own origin, where it serves the Temporal UI at /temporal/ (no CORS needed there). */
  ownOrigin?: (req: Request) => string;
  /**
   * The console session behind a browser request: `read` for a signed-in user who may read every
   * workspace's histories, `forbidden` for one who may not, `none` without a session.
   */
  session?: (req: Request) => Promise<SessionVerdict>;
  log: (msg: string) => void;
}

export type SessionVerdict = 'read' | 'forbidden' | 'none';

const wirePayloads = z.object({
  payloads: z
    .array(
      z.object({
        metadata: z.record(z.string(), z.string()).optional(),
        data: z.string().optional(),
      }),
    )
    .max(10_000)
    .default([]),
});

const fromWire = (p: z.infer<typeof wirePayloads>['payloads'][number]): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toWire = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

const COOKIE = 'hindsight_codec';

function cookieToken(header: string | undefined): string {
  for (const part of (header ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) return decodeURIComponent(rest.join('='));
  }
  return '';
}

const loginPage = (message = '') => `<!doctype html><meta charset="utf-8"><title>Hindsight codec access</title>
<body style="font-family: system-ui; max-width: 32rem; margin: 4rem auto">
<h1>Decode payloads in the Temporal UI</h1>
<p>Enter the codec token (the contents of HINDSIGHT_CODEC_TOKEN_FILE). This browser then keeps it in an HttpOnly cookie that the Temporal UI sends with its decode requests.</p>
${message ? `<p role="alert">${message}</p>` : ''}
<form method="post"><input type="password" name="token" autocomplete="off" required style="width: 100%"> <button>Unlock</button></form>`;

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function refuse(options: CodecServerOptions, req: Request, res: Response, status: 401 | 403, message: string): false {
  options.log(`codec: refused a ${req.path} request (${status}) from ${req.ip}`);
  res.status(status).json({ error: { message } });
  return false;
}

/**
 * Who may call: the temporal CLI with the codec token as a bearer token, a browser unlocked with
 * the token (/codec/session), or a browser signed into the console as a user who may read every
 * workspace's histories (one Temporal namespace holds them all). A console session decodes only:
 * encoding is what starts work, so it stays with the token.
 */
async function authenticate(options: CodecServerOptions, req: Request, res: Response): Promise<boolean> {
  const header = req.headers.authorization ?? '';
  const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : cookieToken(req.headers.cookie);
  if (given) return sameToken(given, options.token ?? '') || refuse(options, req, res, 401, 'the codec token is wrong');
  // A session rides on the browser's cookie: only the Temporal UI's origins (the console's own, or
  // the UI's port) may use it.
  const { origin } = req.headers;
  const foreign = origin !== undefined && origin !== options.corsOrigin && origin !== options.ownOrigin?.(req);
  const verdict = options.session && !foreign ? await options.session(req) : 'none';
  if (verdict === 'none')
    return refuse(options, req, res, 401, 'sign into the console, or send the codec token as a bearer token');
  if (verdict === 'forbidden')
    return refuse(options, req, res, 403, 'your console role may not read the histories of every workspace');
  if (req.path !== '/decode')
    return refuse(options, req, res, 403, 'a console session only decodes; encoding needs the codec token');
  return true;
}

/**
 * Temporal's remote codec protocol (POST /encode, /decode with `{payloads}` in JSON, base64
 * fields), so that the Temporal UI and `temporal … --codec-endpoint` show decoded payloads to
 * operators who hold the token, and encrypt the inputs they send: the worker refuses plaintext,
 * so the token is what lets an operator start work by hand. Without a configured token the
 * endpoint does not exist. The codec given should pass plaintext through on decode (a refused
 * run's input stays readable to the operator); nothing acts on what this endpoint decodes.
 */
export function codecRouter(options: CodecServerOptions): Router {
  const router = express.Router();
  router.use((req, res, next) => {
    res.setHeader('Vary', 'Origin');
    if (req.headers.origin === options.corsOrigin) {
      res.setHeader('Access-Control-Allow-Origin', options.corsOrigin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    }
    if (req.method === 'OPTIONS') return void res.status(req.headers.origin === options.corsOrigin ? 204 : 403).end();
    if (!options.token)
      return void res
        .status(404)
        .json({ error: { message: 'the codec endpoint is off: set HINDSIGHT_CODEC_TOKEN_FILE to turn it on' } });
    if (req.path === '/session') return next();
    authenticate(options, req, res).then((allowed) => (allowed ? next() : undefined), next);
  });
  router.get('/session', (_req, res) => void res.type('html').send(loginPage()));
  router.post('/session', express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    const token = typeof req.body?.token === 'string' ? req.body.token : '';
    if (!options.token || !sameToken(token, options.token)) {
      options.log(`codec: refused a session for ${req.ip}`);
      return void res.status(401).type('html').send(loginPage('That token is not the codec token.'));
    }
    // Same site as the Temporal UI (another port of the same host, or a sibling behind one proxy): Lax is enough.
    res.cookie(COOKIE, token, {
      httpOnly: true,
      sameSite: 'lax',
      path: '/codec',
      maxAge: 12 * 3600_000,
      secure: req.secure,
    });
    res
      .type('html')
      .send(
        '<!doctype html><meta charset="utf-8"><p>Unlocked: the Temporal UI in this browser now shows decoded payloads for 12 hours.</p>',
      );
  });
  router.use(express.json({ limit: '64mb' }));
  for (const direction of ['encode', 'decode'] as const) {
    router.post(`/${direction}`, async (req, res) => {
      const parsed = wirePayloads.safeParse(req.body);
      if (!parsed.success)
        return void res
          .status(400)
          .json({ error: { message: `body must be {"payloads": [...]}: ${parsed.error.issues[0]?.message}` } });
      try {
        const out = await options.codec[direction](parsed.data.payloads.map(fromWire));
        // Encoding is what lets a caller start work (the worker refuses plaintext), so each one is
        // on record; the payloads themselves never are.
        if (direction === 'encode' && out.length > 0)
          options.log(`codec: encrypted ${out.length} payload(s) for ${req.ip}`);
        res.json({ payloads: out.map(toWire) });
      } catch (error) {
        res.status(400).json({ error: { message: (error as Error).message } });
      }
    });
  }
  return router;
}
