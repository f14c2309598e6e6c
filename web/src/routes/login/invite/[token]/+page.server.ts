import { fail, redirect } from '@sveltejs/kit';
import { message } from '#lib/server/actor.ts';
import { field } from '#lib/server/form.ts';
import { services } from '#lib/server/services.ts';
import { setSessionCookie } from '#lib/server/sso.ts';
import type { Actions, PageServerLoad } from './$types';

/** An invitation link: who it is for, and whether it can still be used. */
export const load: PageServerLoad = async ({ params }) => ({
  invitation: (await services().sso.invitation(params.token)) ?? null,
  providers: await services().sso.choices(),
});

export const actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const invitation = await services().sso.invitation(event.params.token);
    const password = field(form, 'password');
    if (invitation && !invitation.accountExists && password !== field(form, 'confirm'))
      return fail(400, { error: 'The two passwords differ.' });
    try {
      const session = await services().sso.acceptWithPassword({
        token: event.params.token,
        password,
        displayName: field(form, 'displayName'),
        ip: event.getClientAddress(),
        userAgent: event.request.headers.get('user-agent'),
      });
      setSessionCookie(event.cookies, session.token, session.expiresAt);
    } catch (err) {
      return fail((err as { kind?: string }).kind === 'bad_input' ? 400 : 403, { error: message(err) });
    }
    redirect(303, '/');
  },
} satisfies Actions;
