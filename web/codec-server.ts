import { timingSafeEqual } from 'node:crypto';
import express, { type Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The bearer token callers must present; the endpoint answers 404 when there is none. */
  token: string | undefined;
  /** The one browser origin allowed to call it: the Temporal UI. */
  corsOrigin: string;
  log: (msg: string) => void;
}

const wirePayloads = z.object({
  payloads: z.array(z.object({
    metadata: z.record(z.string(), z.string()).optional(),
    data: z.string().optional(),
  })).max(10_000),
});

const fromWire = (p: z.infer<typeof wirePayloads>['payloads'][number]): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toWire = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Temporal's remote codec protocol (POST /encode, /decode with `{payloads}` in JSON, base64
 * fields), so that the Temporal UI and `temporal … --codec-endpoint` show decoded payloads to
 * operators who hold the token. Without a configured token the endpoint does not exist.
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
    if (!options.token) return void res.status(404).json({ error: { message: 'the codec endpoint is off: set HINDSIGHT_CODEC_TOKEN_FILE to turn it on' } });
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (!given || !sameToken(given, options.token)) {
      options.log(`codec: refused a ${req.path} request without a valid token from ${req.ip}`);
      return void res.status(401).json({ error: { message: 'a valid bearer token is required' } });
    }
    next();
  });
  router.use(express.json({ limit: '64mb' }));
  for (const direction of ['encode', 'decode'] as const) {
    router.post(`/${direction}`, async (req, res) => {
      const parsed = wirePayloads.safeParse(req.body);
      if (!parsed.success) return void res.status(400).json({ error: { message: `body must be {"payloads": [...]}: ${parsed.error.issues[0]?.message}` } });
      try {
        const out = await options.codec[direction](parsed.data.payloads.map(fromWire));
        res.json({ payloads: out.map(toWire) });
      } catch (error) {
        res.status(400).json({ error: { message: (error as Error).message } });
      }
    });
  }
  return router;
}
