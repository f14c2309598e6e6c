import { fail } from '@sveltejs/kit';
import { HindsightError } from '../../../../lib/errors.ts';
import { actorOf, statusAmong } from './actor.ts';
import type { ActorRef } from './view/types.ts';
import { field } from './form-fields.ts';

export { field, fields } from './form-fields.ts';

/** The HTTP status an error of the service layer maps to where the service reaches out to a remote system (502). */
export function statusFor(err: unknown): 400 | 403 | 404 | 409 | 502 {
  return statusAmong(err, ['forbidden', 'not_found', 'conflict', 'unreachable']);
}

/**
 * A destructive action's typed confirmation (the `confirm` field): the thing's name typed again.
 * The browser disables the button until it matches; without JavaScript this check is the guard.
 */
function requireTypedName(form: FormData, fieldName: string, name: string): void {
  if (field(form, 'confirm').trim() === name) return;
  throw new HindsightError('bad_input', `confirmation: type the ${fieldName}'s name "${name}" exactly to remove it`);
}

/**
 * A page action on the one thing a form field names (`?/test`, `?/remove`): `run` does it as the
 * signed-in user and returns the page's answer; a service error becomes a failure with the data
 * `failed` builds and the status the error's kind maps to. With `confirm`, the name must be typed again.
 */
export function actionOn<R, F extends Record<string, unknown>>(
  fieldName: string,
  run: (actor: ActorRef, name: string) => Promise<R>,
  failed: (name: string, err: unknown) => F,
  options: { confirm?: boolean } = {},
) {
  return async ({ request, locals }: { request: Request; locals: App.Locals }) => {
    const form = await request.formData();
    const name = field(form, fieldName);
    try {
      if (options.confirm) requireTypedName(form, fieldName, name);
      return await run(actorOf(locals), name);
    } catch (err) {
      return fail(statusFor(err), failed(name, err));
    }
  };
}
