/**
 * Who may see the Temporal UI and decode its payloads. One Temporal namespace holds the histories
 * of every workspace and neither a run nor a payload says whose it is, so both need the right to
 * read histories (services/authz.ts: `history.read`) in every workspace, or the instance's
 * privileges: whoever passes may read all the UI shows, and nobody reads a workspace's runs
 * through it who could not read them in the console. The codec endpoint (web/codec-access.ts),
 * the /temporal/ route (web/temporal-ui-proxy.ts) and the header's link all ask this.
 */
import { isInstanceLevel, type Actor } from '../../../../../services/authz.ts';
import type { Services } from '../../../../../services/index.ts';

/** Where the console serves the Temporal UI (the UI server runs with `--ui-public-path` set to it). */
export const TEMPORAL_UI_PATH = '/temporal';

export async function mayReadEveryHistory(services: Services, actor: Actor): Promise<boolean> {
  if (isInstanceLevel(actor)) return true;
  const readable = new Set(await services.ctx.guard.authz.workspacesAllowing(actor, 'history.read'));
  const workspaces = await services.ctx.runtime.catalog.access.listWorkspaces();
  return workspaces.every((w) => readable.has(w.id));
}

/**
 * The header's "Temporal UI" link for `actor`: the console's /temporal/ when it serves the UI and
 * the actor may see it, none when it may not; the separately served UI otherwise, unchanged.
 */
export async function temporalUiLink(services: Services, actor: Actor): Promise<string | null> {
  const { config } = services.ctx.runtime;
  if (!config.temporalUiUpstream) return config.temporalUiUrl;
  return (await mayReadEveryHistory(services, actor)) ? `${TEMPORAL_UI_PATH}/` : null;
}
