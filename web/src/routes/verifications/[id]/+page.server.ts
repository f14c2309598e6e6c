import { error } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ params, locals }) => {
  try {
    return { report: await services().database.verification(actorOf(locals), params.id) };
  } catch (err) {
    const status = statusOf(err);
    error(status === 400 ? 503 : status, message(err));
  }
};
