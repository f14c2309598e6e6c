import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { message } from '#lib/server/actor.ts';
import {
  clientOf,
  passkeySignInToken,
  setPasskeySignInCookie,
  setSessionCookie,
} from '#lib/server/second-factor-session.ts';
import { services } from '#lib/server/services.ts';
import type { RequestHandler } from './$types';

/** The browser's passkey answer, checked in depth by @simplewebauthn/server. */
const body = z.object({ response: z.looseObject({ id: z.string().min(1).max(1500) }).optional() });

/**
 * Passwordless sign-in: without `response`, a challenge any registered passkey may sign (kept
 * under a cookie of its own); with it, the check, and the session cookie when it passes.
 */
export const POST: RequestHandler = async (event) => {
  const parsed = body.safeParse(await event.request.json().catch(() => null));
  if (!parsed.success) return json({ error: 'the request is not a passkey answer' }, { status: 400 });
  try {
    const { response } = parsed.data;
    if (!response) {
      const { token, options } = await services().secondFactors.passkeySignInOptions();
      setPasskeySignInCookie(event.cookies, token);
      return json({ options });
    }
    const token = passkeySignInToken(event.cookies);
    if (!token) return json({ error: 'the passkey sign-in expired: try again' }, { status: 401 });
    const answer = response as unknown as AuthenticationResponseJSON;
    setSessionCookie(
      event.cookies,
      await services().secondFactors.completePasskeySignIn(token, answer, clientOf(event)),
    );
    return json({ ok: true });
  } catch (err) {
    return json({ error: message(err) }, { status: (err as { kind?: string }).kind === 'rate_limited' ? 429 : 401 });
  }
};
