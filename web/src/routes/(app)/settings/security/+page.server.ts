import { error, fail } from '@sveltejs/kit';
import { actorOf, message, statusOf } from '#lib/server/actor.ts';
import { field } from '#lib/server/form.ts';
import { services } from '#lib/server/services.ts';
import type { Actions, PageServerLoad } from './$types';

/** The signed-in user's second factors: authenticator app, recovery codes and passkeys. */
export const load: PageServerLoad = async ({ locals }) => {
  const actor = actorOf(locals);
  try {
    const status = await services().secondFactors.secondFactorStatus(actor);
    // The secret is shown only while enrolling: it is what the QR code carries, for typing in by hand.
    const enrolment = status.totp ? undefined : await services().secondFactors.startTotpEnrolment(actor);
    return { status, enrolment: enrolment ? { secret: enrolment.secret, qrSvg: enrolment.qrSvg } : null };
  } catch (err) {
    error(statusOf(err), message(err));
  }
};

export const actions = {
  /** The recovery codes come back in this answer only: the catalog keeps their hashes. */
  confirmTotp: async ({ request, locals }) => {
    const code = field(await request.formData(), 'code');
    try {
      return { recoveryCodes: await services().secondFactors.confirmTotp(actorOf(locals), code) };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
  renewRecoveryCodes: async ({ locals }) => {
    try {
      return { recoveryCodes: await services().secondFactors.regenerateRecoveryCodes(actorOf(locals)) };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
  removeTotp: async ({ locals }) => {
    try {
      await services().secondFactors.removeTotp(actorOf(locals));
      return { ok: 'The authenticator app is removed: sign-in no longer asks for its codes.' };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
  removePasskey: async ({ request, locals }) => {
    const id = Number(field(await request.formData(), 'id'));
    try {
      await services().secondFactors.removePasskey(actorOf(locals), id);
      return { ok: 'The passkey is removed: it no longer signs in.' };
    } catch (err) {
      return fail(statusOf(err), { error: message(err) });
    }
  },
} satisfies Actions;
