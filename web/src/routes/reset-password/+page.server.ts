import { fail } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { message } from '#lib/server/actor.ts';
import { field } from '#lib/server/form.ts';
import type { Actions, PageServerLoad } from './$types';

/** The link printed by `hindsight user reset-password`: sets the account's password once. */
export const load: PageServerLoad = async ({ url }) => {
  const token = url.searchParams.get('token') ?? '';
  return { token, email: (await services().auth.passwordResetEmail(token)) ?? null };
};

export const actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const token = field(form, 'token');
    const password = field(form, 'password');
    if (password !== field(form, 'confirm')) return fail(400, { error: 'The two passwords differ.' });
    try {
      await services().auth.resetPassword({ token, password }, event.getClientAddress());
    } catch (err) {
      return fail((err as { kind?: string }).kind === 'forbidden' ? 403 : 400, { error: message(err) });
    }
    return { done: true };
  },
} satisfies Actions;
