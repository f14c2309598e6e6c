/**
 * Whether a console session may decode payloads through /codec. One Temporal namespace holds the
 * histories of every workspace and a payload does not say whose it is, so decoding needs the
 * right to read histories (services/authz.ts: `history.read`) in every workspace, or the
 * instance's privileges. Nothing more is granted: a session decodes, it never encodes.
 */
import type { Request } from 'express';
import { isInstanceLevel, type Actor } from '../services/authz.ts';
import { clientAddress, parseCookies } from './access-http.ts';
import type { SessionVerdict } from './codec-server.ts';
import type { HostServices } from './src/lib/server/view/index.ts';

export async function mayDecodeEverything(services: HostServices, actor: Actor): Promise<boolean> {
  if (isInstanceLevel(actor)) return true;
  const readable = new Set(await services.authz.workspacesAllowing(actor, 'history.read'));
  const workspaces = await services.domain.ctx.runtime.catalog.access.listWorkspaces();
  return workspaces.every((w) => readable.has(w.id));
}

/** The codec endpoint's `session` check, on the console's session cookie. */
export function codecSessionCheck(services: HostServices): (req: Request) => Promise<SessionVerdict> {
  return async (req) => {
    const token = parseCookies(req.headers.cookie).get(services.auth.cookie.name);
    const actor = token ? await services.access.sessionActor(token, clientAddress(req)) : undefined;
    if (!actor) return 'none';
    return (await mayDecodeEverything(services, actor)) ? 'read' : 'forbidden';
  };
}
