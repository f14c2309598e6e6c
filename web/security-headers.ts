/**
 * Headers every response of the console carries. Pages replace the Content-Security-Policy with
 * SvelteKit's own (kit.csp in web/vite.config.ts: scripts only from our origin or with the hashes
 * of SvelteKit's inline ones); everything else (the API, metrics, assets) gets one that allows
 * nothing, since none of it is a document to render.
 */
import type { RequestHandler } from 'express';

/** What no response may be: framed by another site, sniffed into another type, or leak its URL elsewhere. */
export const BASE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
} as const;

const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * `documentPaths` serve third-party documents (the Temporal UI) that keep their own scripts: they
 * get only `frame-ancestors 'none'`.
 */
export function securityHeaders(documentPaths: string[] = []): RequestHandler {
  return (req, res, next) => {
    for (const [name, value] of Object.entries(BASE_HEADERS)) res.setHeader(name, value);
    const document = documentPaths.some((p) => req.path === p || req.path.startsWith(`${p}/`));
    res.setHeader(
      'Content-Security-Policy',
      document ? "frame-ancestors 'none'" : "default-src 'none'; frame-ancestors 'none'",
    );
    // Only over https (req.secure honours HINDSIGHT_TRUST_PROXY): over plain http the header would
    // be ignored at best, and at worst pin a host that has no certificate.
    if (req.secure) res.setHeader('Strict-Transport-Security', HSTS);
    next();
  };
}
