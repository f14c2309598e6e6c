/**
 * Whether a console session may decode payloads through /codec: the rule of who may see the
 * Temporal UI (web/src/lib/server/view/temporal-ui.ts), since the UI is what decodes through it.
 * Nothing more is granted: a session decodes, it never encodes.
 */
import type { Request } from 'express';
import type { Actor } from '../services/authz.ts';
import { clientAddress, parseCookies } from './access-http.ts';
import type { SessionVerdict } from './codec-server.ts';
import type { HostServices } from './src/lib/server/view/index.ts';
import { mayReadEveryHistory } from './src/lib/server/view/temporal-ui.ts';

/** The actor of the console session cookie `req` carries, if any (an API token does not count here). */
export async function sessionActorOf(services: HostServices, req: Request): Promise<Actor | undefined> {
  const token = parseCookies(req.headers.cookie).get(services.auth.cookie.name);
  return token ? await services.access.sessionActor(token, clientAddress(req)) : undefined;
}

/** The codec endpoint's `session` check, on the console's session cookie. */
export function codecSessionCheck(services: HostServices): (req: Request) => Promise<SessionVerdict> {
  return async (req) => {
    const actor = await sessionActorOf(services, req);
    if (!actor) return 'none';
    return (await mayReadEveryHistory(services.domain, actor)) ? 'read' : 'forbidden';
  };
}
