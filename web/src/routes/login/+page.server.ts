import { fail, redirect } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { message } from '#lib/server/actor.ts';
import type { Actions, PageServerLoad } from './$types';

/** Only same-site paths: `next` must not send a freshly signed-in user elsewhere. */
const safeNext = (value: string | null) => (value && value.startsWith('/') && !value.startsWith('//') ? value : '/');

export const load: PageServerLoad = async ({ locals, url }) => {
  if (await services().auth.needsSetup()) redirect(303, '/setup');
  if (locals.actor) redirect(303, safeNext(url.searchParams.get('next')));
  return {};
};

export const actions = {
  default: async ({ request, cookies, getClientAddress, url }) => {
    const form = await request.formData();
    const email = String(form.get('email') ?? '');
    const password = String(form.get('password') ?? '');
    try {
      const { token, expiresAt } = await services().auth.login({
        email,
        password,
        ip: getClientAddress(),
        userAgent: request.headers.get('user-agent'),
      });
      const { name, secure } = services().auth.cookie;
      cookies.set(name, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, expires: expiresAt });
    } catch (err) {
      const kind = (err as { kind?: string }).kind;
      return fail(kind === 'rate_limited' ? 429 : 401, {
        email,
        error: kind === 'rate_limited' || kind === 'access_denied' ? message(err) : `Could not log in: ${message(err)}`,
      });
    }
    redirect(303, safeNext(url.searchParams.get('next')));
  },
} satisfies Actions;
