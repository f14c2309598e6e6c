import { error, fail, redirect } from '@sveltejs/kit';
import { services } from '#lib/server/services.ts';
import { message } from '#lib/server/actor.ts';
import { field } from '#lib/server/form.ts';
import { startSession } from '#lib/server/session.ts';
import { setupHostProblem } from '#lib/server/setup-host.ts';
import type { Actions, PageServerLoad } from './$types';

function refuseForeignHost(url: URL): void {
  const problem = setupHostProblem(url, services().auth.publicUrl);
  if (problem) error(403, problem);
}

export const load: PageServerLoad = async ({ url }) => {
  // Owner creation exists only until the first account does.
  if (!(await services().auth.needsSetup())) redirect(303, '/login');
  refuseForeignHost(url);
  // The link printed at start carries the token, so the operator need not copy it by hand.
  return { setupToken: url.searchParams.get('token') ?? '' };
};

export const actions = {
  default: async (event) => {
    refuseForeignHost(event.url);
    const form = await event.request.formData();
    const email = field(form, 'email');
    const displayName = field(form, 'displayName');
    const password = field(form, 'password');
    const setupToken = field(form, 'setupToken').trim();
    if (password !== field(form, 'confirm'))
      return fail(400, { email, displayName, setupToken, error: 'The two passwords differ.' });
    try {
      await services().auth.createFirstOwner({ email, password, displayName, setupToken }, event.getClientAddress());
      await startSession(event, email, password);
    } catch (err) {
      const status = (err as { kind?: string }).kind === 'forbidden' ? 403 : 400;
      return fail(status, { email, displayName, setupToken, error: message(err) });
    }
    redirect(303, '/');
  },
} satisfies Actions;
