import { error, redirect } from '@sveltejs/kit';
import { message, statusAmong } from '#lib/server/actor.ts';
import { services } from '#lib/server/services.ts';
import { callbackUri, safeNext, setStateCookie } from '#lib/server/sso.ts';
import type { RequestHandler } from './$types';

/** Sends the browser to the provider, keeping the sign-in's state in a cookie for the callback. */
export const GET: RequestHandler = async ({ params, url, cookies }) => {
  let target: string;
  try {
    const started = await services().sso.start(params.name, {
      redirectUri: callbackUri(url),
      nextPath: safeNext(url.searchParams.get('next')),
      invitationToken: url.searchParams.get('invitation') ?? undefined,
    });
    setStateCookie(cookies, started.state);
    target = started.url;
  } catch (err) {
    error(statusAmong(err, ['not_found', 'unreachable']), message(err));
  }
  // The provider's authorization endpoint, from its own metadata.
  redirect(303, target, { external: [new URL(target).origin] });
};
