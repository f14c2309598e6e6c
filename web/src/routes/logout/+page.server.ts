import { redirect } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { publicBase } from '#lib/server/sso.ts';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = () => redirect(303, '/');

export const actions = {
  default: async ({ cookies, locals, url }) => {
    const { name, secure } = services().auth.cookie;
    // Asked before the session ends: a session opened through a provider ends at the provider too.
    const providerLogout = locals.sessionToken
      ? await services().sso.endSessionUrl(locals.sessionToken, `${publicBase(url)}/login`)
      : undefined;
    if (locals.sessionToken) await services().auth.logout(locals.sessionToken, locals.actor ?? undefined);
    cookies.delete(name, { path: '/', httpOnly: true, sameSite: 'lax', secure });
    if (providerLogout) redirect(303, providerLogout, { external: [new URL(providerLogout).origin] });
    redirect(303, '/login');
  },
} satisfies Actions;
