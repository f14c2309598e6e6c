import { fail, redirect } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { message } from '#lib/server/actor.ts';
import { field } from '#lib/server/form.ts';
import { startSession } from '#lib/server/session.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async () => {
  // Owner creation exists only until the first account does.
  if (!(await services().auth.needsSetup())) redirect(303, '/login');
  return {};
};

export const actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const email = field(form, 'email');
    const displayName = field(form, 'displayName');
    const password = field(form, 'password');
    if (password !== field(form, 'confirm'))
      return fail(400, { email, displayName, error: 'The two passwords differ.' });
    try {
      await services().auth.createFirstOwner({ email, password, displayName }, event.getClientAddress());
      await startSession(event, email, password);
    } catch (err) {
      return fail(400, { email, displayName, error: message(err) });
    }
    redirect(303, '/');
  },
} satisfies Actions;
