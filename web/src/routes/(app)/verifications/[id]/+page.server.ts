import { error } from '@sveltejs/kit';
import { header } from '#lib/header.ts';
import { services } from '#lib/server/services.ts';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ params, locals }) => {
  try {
    const report = await services().database.verification(actorOf(locals), params.id);
    const active = report.verification.status === 'pending' || report.verification.status === 'running';
    return { report, header: header(report.temporalUiUrl, active) };
  } catch (err) {
    const status = statusOf(err);
    error(status === 400 ? 503 : status, message(err));
  }
};
