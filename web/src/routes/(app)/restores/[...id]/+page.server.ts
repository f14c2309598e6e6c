import { error } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message } from '#lib/server/actor.ts';
import { statusFor } from '#lib/server/form.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ params, locals }) => {
  try {
    const status = await services().setup.restoreStatus(actorOf(locals), params.id);
    return { status, header: header(status.temporalUiUrl) };
  } catch (err) {
    const status = statusFor(err);
    error(status === 400 ? 503 : status, message(err));
  }
};
