import { fail, redirect } from '@sveltejs/kit';
import { message } from '#lib/server/actor.ts';
import { field } from '#lib/server/form.ts';
import { clientOf, pendingToken, safeNext, setSessionCookie } from '#lib/server/second-factor-session.ts';
import { services } from '#lib/server/services.ts';
import type { OpenedSession } from '../../../../../services/access/second-factor.ts';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

/** The second step of signing in: an authenticator code, a recovery code or a passkey. */
export const load: PageServerLoad = async ({ cookies, locals, url }) => {
  if (locals.actor) redirect(303, safeNext(url.searchParams.get('next')));
  const token = pendingToken(cookies);
  const methods = token ? await services().secondFactors.pendingSecondFactorMethods(token) : undefined;
  if (!methods) redirect(303, '/login');
  return { methods };
};

/** Runs one check; on success the session cookie is set and the user goes on to `next`. */
async function finish(event: RequestEvent, check: (token: string) => Promise<OpenedSession>, kind: string) {
  const token = pendingToken(event.cookies);
  if (!token) redirect(303, '/login');
  try {
    setSessionCookie(event.cookies, await check(token));
  } catch (err) {
    const status = (err as { kind?: string }).kind === 'rate_limited' ? 429 : 401;
    return fail(status, { kind, error: message(err) });
  }
  redirect(303, safeNext(event.url.searchParams.get('next')));
}

export const actions = {
  totp: async (event) => {
    const code = field(await event.request.formData(), 'code');
    return finish(event, (token) => services().secondFactors.completeWithTotp(token, code, clientOf(event)), 'totp');
  },
  recovery: async (event) => {
    const code = field(await event.request.formData(), 'code');
    return finish(
      event,
      (token) => services().secondFactors.completeWithRecoveryCode(token, code, clientOf(event)),
      'recovery',
    );
  },
} satisfies Actions;
