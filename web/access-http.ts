/**
 * Sessions and request safety for everything the express host serves: the session cookie becomes
 * an actor (handed to SvelteKit through `platform.req`), every page and `/api/v1` route needs one,
 * and state-changing requests must come from the console's own origin.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HindsightError } from '../lib/errors.ts';
import type { Actor } from '../services/authz.ts';
import type { HostServices } from './src/lib/server/view/index.ts';
import { safeNext } from './src/lib/safe-next.ts';

export interface RequestAccess {
  actor: Actor | undefined;
  /** The session token (cookie); undefined for a request made with an API token. */
  token: string | undefined;
  /** How the actor was recognised. */
  via?: 'session' | 'api-token' | undefined;
}

const ACCESS = Symbol.for('hindsight.access');

/** The session resolved for this request (also read by web/src/hooks.server.ts through platform.req). */
export function requestAccess(req: Request): RequestAccess {
  return (req as unknown as Record<symbol, RequestAccess>)[ACCESS] ?? { actor: undefined, token: undefined };
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const name = part.slice(0, i).trim();
    if (!cookies.has(name)) cookies.set(name, decodeURIComponent(part.slice(i + 1).trim()));
  }
  return cookies;
}

export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** Paths open without a session: health, the codec (its own token), the sign-in pages and static assets. */
const PUBLIC_PATHS = [
  /^\/healthz$/,
  /^\/api\/v1\/session$/,
  /^\/api\/v1\/openapi\.json$/,
  /^\/codec(\/|$)/,
  /^\/login(\/|$)/,
  /^\/setup(\/|$)/,
  /^\/reset-password$/,
  /^\/theme$/,
  /^\/_app\//,
  /^\/favicon\.[a-z]+$/,
  /^\/robots\.txt$/,
];

export function isPublicPath(path: string): boolean {
  return PUBLIC_PATHS.some((re) => re.test(path));
}

/** The origin the console is reached at: HINDSIGHT_PUBLIC_URL's, or the request's own host. */
export function expectedOrigin(req: Request, publicUrl: string | undefined): string {
  return publicUrl ? new URL(publicUrl).origin : `${req.protocol}://${req.headers.host ?? ''}`;
}

/** The HTTP status of a service error. */
export function statusOf(error: unknown): number {
  if (!(error instanceof HindsightError)) return 500;
  switch (error.kind) {
    case 'bad_input':
      return 400;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'conflict':
    case 'busy':
      return 409;
    case 'rate_limited':
      return 429;
    case 'access_denied':
    case 'unreachable':
      return 502;
    case 'no_space':
      return 507;
    default:
      return 500;
  }
}

export function accessMiddleware(
  services: HostServices,
  options: { publicUrl: string | undefined; log: (msg: string) => void },
): RequestHandler {
  const cookieName = services.auth.cookie.name;
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      // A personal API token: scripts send no cookie, so there is nothing for a cross-site page to
      // ride on (a browser cannot add this header to a cross-origin request without CORS) and the
      // Origin check does not apply. The cookie is ignored when a token is given.
      const bearer = bearerToken(req);
      if (bearer !== undefined && BEARER_PATHS.test(req.path)) {
        const actor = await services.tokens.actorForSecret(bearer, clientAddress(req));
        (req as unknown as Record<symbol, RequestAccess>)[ACCESS] = { actor, token: undefined, via: 'api-token' };
        if (actor || isPublicPath(req.path)) return next();
        res.status(401).json({
          error: {
            kind: 'unauthenticated',
            message:
              'the API token is unknown, revoked or expired, or its user was disabled or left the workspace (create a new one on /settings)',
          },
        });
        return;
      }
      // CSRF: SameSite=Lax keeps the cookie off cross-site subrequests and posts; on top, a
      // state-changing request must name our origin. Browsers send Origin on every POST; a form
      // post without it (very old browsers, some privacy tools) is refused rather than trusted.
      if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && !req.path.startsWith('/codec')) {
        const origin = req.headers.origin ?? (req.headers.referer ? safeOrigin(req.headers.referer) : undefined);
        const expected = expectedOrigin(req, options.publicUrl);
        const formLike = /^(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)/i.test(
          req.headers['content-type'] ?? '',
        );
        if ((origin && origin !== expected) || (!origin && formLike)) {
          res.status(403).json({
            error: {
              kind: 'forbidden',
              message: `cross-site request refused: origin ${origin ?? '(none)'} is not ${expected}`,
            },
          });
          return;
        }
      }
      const token = parseCookies(req.headers.cookie).get(cookieName);
      const actor = token ? await services.access.sessionActor(token, clientAddress(req)) : undefined;
      (req as unknown as Record<symbol, RequestAccess>)[ACCESS] = {
        actor,
        token: actor ? token : undefined,
        via: actor ? 'session' : undefined,
      };
      if (actor || isPublicPath(req.path)) return next();
      if (req.path.startsWith('/api/')) {
        res.status(401).json({
          error: {
            kind: 'unauthenticated',
            message: 'log in first: this endpoint needs a session cookie (POST /api/v1/session)',
          },
        });
        return;
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        const next = safeNext(req.originalUrl);
        const to = (await services.auth.needsSetup())
          ? '/setup'
          : `/login${next === '/' ? '' : `?next=${encodeURIComponent(next)}`}`;
        res.redirect(303, to);
        return;
      }
      res.status(401).json({ error: { kind: 'unauthenticated', message: 'log in first' } });
    } catch (error) {
      options.log(`session check failed: ${(error as Error).message}`);
      res
        .status(503)
        .json({ error: { kind: 'unavailable', message: 'the catalog could not be reached to check the session' } });
    }
  };
}

/** Paths that accept `Authorization: Bearer hs_…` instead of a session cookie. */
const BEARER_PATHS = /^\/(api\/|metrics$)/;

function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : undefined;
}

function safeOrigin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** Set-Cookie for a session: HttpOnly, SameSite=Lax, Secure when the console is served over https. */
export function sessionCookie(
  name: string,
  token: string,
  options: { secure: boolean; maxAgeSeconds: number },
): string {
  return `${name}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${options.maxAgeSeconds}${options.secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(name: string, secure: boolean): string {
  return `${name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure ? '; Secure' : ''}`;
}
