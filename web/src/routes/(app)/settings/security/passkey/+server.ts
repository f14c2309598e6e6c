import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import { services } from '#lib/server/services.ts';
import type { RequestHandler } from './$types';

/** The browser's answer, checked in depth by @simplewebauthn/server. */
const body = z.object({
  token: z.string().max(100).optional(),
  name: z.string().max(200).optional(),
  response: z.looseObject({ id: z.string().min(1).max(1500) }).optional(),
});

/**
 * Registers a passkey for the signed-in user: without `response`, the options for the browser and
 * the token its challenge is kept under; with it, the check and the new passkey.
 */
export const POST: RequestHandler = async ({ request, locals }) => {
  const actor = actorOf(locals);
  const parsed = body.safeParse(await request.json().catch(() => null));
  if (!parsed.success) return json({ error: 'the request is not a passkey registration' }, { status: 400 });
  const { token, name, response } = parsed.data;
  try {
    if (!response) return json(await services().secondFactors.passkeyRegistrationOptions(actor));
    const answer = response as unknown as RegistrationResponseJSON;
    const passkey = await services().secondFactors.registerPasskey(actor, token ?? '', answer, name);
    return json({ ok: true, passkey });
  } catch (err) {
    const kind = (err as { kind?: string }).kind;
    return json({ error: message(err) }, { status: kind === 'access_denied' ? 400 : statusOf(err) });
  }
};
