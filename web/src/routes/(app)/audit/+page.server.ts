import { error } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, url }) => {
  const filters = {
    workspace: url.searchParams.get('workspace') ?? '',
    actor: url.searchParams.get('actor') ?? '',
    action: url.searchParams.get('action') ?? '',
    since: url.searchParams.get('since') ?? '',
  };
  try {
    const actor = actorOf(locals);
    const [entries, workspaces] = await Promise.all([
      services().people.listAudit(actor, filters),
      services().people.listWorkspaces(actor),
    ]);
    return { entries, filters, workspaces: workspaces.map((w) => w.name) };
  } catch (err) {
    error(statusOf(err), message(err));
  }
};
