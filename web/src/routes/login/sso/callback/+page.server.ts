import { redirect } from '@sveltejs/kit';
import { message } from '#lib/server/actor.ts';
import { services } from '#lib/server/services.ts';
import { publicBase, setSessionCookie, takeStateCookie } from '#lib/server/sso.ts';
import type { PageServerLoad } from './$types';

/** The provider's answer: a session, the "no access" page, or the refusal shown here. */
export const load: PageServerLoad = async (event) => {
  const { url, cookies, request } = event;
  let outcome;
  try {
    outcome = await services().sso.finish({
      callbackUrl: new URL(`${publicBase(url)}${url.pathname}${url.search}`),
      browserState: takeStateCookie(cookies),
      ip: event.getClientAddress(),
      userAgent: request.headers.get('user-agent'),
    });
  } catch (err) {
    return { error: message(err) };
  }
  if (outcome.kind === 'no-access') {
    const query = new URLSearchParams({ provider: outcome.provider, email: outcome.email });
    redirect(303, `/login/sso/no-access?${query}`);
  }
  setSessionCookie(cookies, outcome.token, outcome.expiresAt);
  redirect(303, outcome.nextPath);
};
