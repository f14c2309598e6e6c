import { fail, redirect } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { message } from '#lib/server/actor.ts';
import { field } from '#lib/server/form.ts';
import { startSession } from '#lib/server/session.ts';
import { safeNext } from '#lib/safe-next.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ locals, url }) => {
  if (await services().auth.needsSetup()) redirect(303, '/setup');
  if (locals.actor) redirect(303, safeNext(url.searchParams.get('next')));
  return {};
};

export const actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const email = field(form, 'email');
    try {
      await startSession(event, email, field(form, 'password'));
    } catch (err) {
      const kind = (err as { kind?: string }).kind;
      return fail(kind === 'rate_limited' ? 429 : 401, {
        email,
        error: kind === 'rate_limited' || kind === 'access_denied' ? message(err) : `Could not log in: ${message(err)}`,
      });
    }
    redirect(303, safeNext(event.url.searchParams.get('next')));
  },
} satisfies Actions;
