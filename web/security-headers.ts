/**
 * Headers every response of the console carries. Pages replace the Content-Security-Policy with
 * SvelteKit's own (kit.csp in web/vite.config.ts: scripts only from our origin or with the hashes
 * of SvelteKit's inline ones); everything else (the API, metrics, assets) gets one that allows
 * nothing, since none of it is a document to render.
 */
import type { RequestHandler, Response } from 'express';

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
    dropPolicyOnNotModified(res);
    next();
  };
}

/**
 * A 304's headers replace those the browser cached with the page (RFC 9111 §4.3.4): the policy set
 * above would replace the page's own (SvelteKit's, with the hashes of its inline scripts), and the
 * page would then load none of its scripts or styles. A 304 carries no policy, so the cached one stays.
 */
function dropPolicyOnNotModified(res: Response): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: Parameters<Response['writeHead']>) {
    if (args[0] === 304) this.removeHeader('Content-Security-Policy');
    return writeHead.apply(this, args);
  } as Response['writeHead'];
}
