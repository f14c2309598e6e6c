/**
 * A workspace's second-factor requirement holds for /api/v1 as for the console's pages: a request
 * authenticated by the session cookie of a member who has not enrolled is refused, except the
 * endpoints that sign in, sign out and say who is signed in. API tokens are made after signing in
 * (on the console, which sends the member to enrol first), so they are not asked again here.
 */
import type { Request } from 'express';
import { HindsightError } from '../lib/errors.ts';
import type { HostServices } from './src/lib/server/view/index.ts';
import { requestAccess } from './access-http.ts';

/** Endpoint paths a session may reach before enrolling. */
const OPEN_BEFORE_ENROLMENT = new Set(['/session', '/me']);

export async function refuseUntilEnrolled(services: HostServices, req: Request, path: string): Promise<void> {
  const { actor, via } = requestAccess(req);
  if (via !== 'session' || !actor || OPEN_BEFORE_ENROLMENT.has(path)) return;
  if (!(await services.access.mustEnrolSecondFactor(actor))) return;
  throw new HindsightError(
    'forbidden',
    'a workspace you belong to requires a second factor: add an authenticator app or a passkey on /settings/security, then try again',
  );
}
