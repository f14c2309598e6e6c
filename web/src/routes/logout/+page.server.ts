import { redirect } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = () => redirect(303, '/');

export const actions = {
  default: async ({ cookies, locals }) => {
    const { name, secure } = services().auth.cookie;
    if (locals.sessionToken) await services().auth.logout(locals.sessionToken, locals.actor ?? undefined);
    cookies.delete(name, { path: '/', httpOnly: true, sameSite: 'lax', secure });
    redirect(303, '/login');
  },
} satisfies Actions;
