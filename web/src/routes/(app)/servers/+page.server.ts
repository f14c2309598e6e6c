import { error } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { PageServerLoad } from './$types';

/** Read-only this round: servers are added, changed and run with `hindsight server …` or /api/v1/servers. */
export const load: PageServerLoad = async ({ locals }) => {
  try {
    return { servers: await services().servers(actorOf(locals)) };
  } catch (err) {
    error(statusOf(err), message(err));
  }
};
