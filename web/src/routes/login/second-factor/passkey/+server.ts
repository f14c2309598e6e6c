import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { message } from '#lib/server/actor.ts';
import { clientOf, pendingToken, setSessionCookie } from '#lib/server/second-factor-session.ts';
import { services } from '#lib/server/services.ts';
import type { RequestHandler } from './$types';

/** The browser's passkey answer, checked in depth by @simplewebauthn/server. */
const body = z.object({ response: z.looseObject({ id: z.string().min(1).max(1500) }).optional() });

/**
 * A passkey as the second factor: without `response`, the options for the browser (only the
 * pending user's passkeys); with it, the check, and the session cookie when it passes.
 */
export const POST: RequestHandler = async (event) => {
  const token = pendingToken(event.cookies);
  if (!token) return json({ error: 'the sign-in has expired: log in with your password again' }, { status: 401 });
  const parsed = body.safeParse(await event.request.json().catch(() => null));
  if (!parsed.success) return json({ error: 'the request is not a passkey answer' }, { status: 400 });
  try {
    const { response } = parsed.data;
    if (!response) return json({ options: await services().secondFactors.secondFactorPasskeyOptions(token) });
    const answer = response as unknown as AuthenticationResponseJSON;
    const session = await services().secondFactors.completeWithPasskey(token, answer, clientOf(event));
    setSessionCookie(event.cookies, session);
    return json({ ok: true });
  } catch (err) {
    return json({ error: message(err) }, { status: (err as { kind?: string }).kind === 'rate_limited' ? 429 : 401 });
  }
};
