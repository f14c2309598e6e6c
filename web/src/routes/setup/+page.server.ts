import { fail, redirect } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { message } from '#lib/server/actor.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async () => {
  // Owner creation exists only until the first account does.
  if (!(await services().auth.needsSetup())) redirect(303, '/login');
  return {};
};

export const actions = {
  default: async ({ request, cookies, getClientAddress }) => {
    const form = await request.formData();
    const email = String(form.get('email') ?? '');
    const displayName = String(form.get('displayName') ?? '');
    const password = String(form.get('password') ?? '');
    if (password !== String(form.get('confirm') ?? ''))
      return fail(400, { email, displayName, error: 'The two passwords differ.' });
    try {
      await services().auth.createFirstOwner({ email, password, displayName }, getClientAddress());
      const { token, expiresAt } = await services().auth.login({
        email,
        password,
        ip: getClientAddress(),
        userAgent: request.headers.get('user-agent'),
      });
      const { name, secure } = services().auth.cookie;
      cookies.set(name, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, expires: expiresAt });
    } catch (err) {
      return fail(400, { email, displayName, error: message(err) });
    }
    redirect(303, '/');
  },
} satisfies Actions;
