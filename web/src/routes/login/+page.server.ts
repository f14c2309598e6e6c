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
  return { providers: await services().sso.choices() };
};

export const actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const email = field(form, 'email');
    let step: Awaited<ReturnType<typeof startSession>>;
    try {
      step = await startSession(event, email, field(form, 'password'));
    } catch (err) {
      const kind = (err as { kind?: string }).kind;
      return fail(kind === 'rate_limited' ? 429 : 401, {
        email,
        error: kind === 'rate_limited' || kind === 'access_denied' ? message(err) : `Could not log in: ${message(err)}`,
      });
    }
    const next = safeNext(event.url.searchParams.get('next'));
    if (step === 'second-factor') redirect(303, `/login/second-factor?next=${encodeURIComponent(next)}`);
    redirect(303, next);
  },
} satisfies Actions;
