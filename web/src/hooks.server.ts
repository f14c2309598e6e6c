import { redirect } from '@sveltejs/kit';
import type { Handle } from '@sveltejs/kit/hooks';
import { routeLabel } from '#lib/route-label.ts';
import { services } from '#lib/server/services.ts';
import { THEME_COOKIE, themeOf } from '#lib/theme.ts';
import type { ActorRef } from '#lib/server/view/types.ts';

// Set by web/access-http.ts on the request before this handler runs.
const ACCESS = Symbol.for('hindsight.access');
// Read by web/metrics.ts: the matched route's id labels the HTTP metrics instead of the raw path.
const ROUTE = Symbol.for('hindsight.route');
const OPEN = [/^\/login(\/|$)/, /^\/setup(\/|$)/, /^\/reset-password$/, /^\/theme$/];
// What a member of a workspace that requires a second factor may still reach before enrolling one.
const ENROLMENT_OPEN = [/^\/settings\/security(\/|$)/, /^\/logout$/, /^\/theme$/];

/**
 * The express host has already resolved the session and refused requests without one; this reads
 * its answer into `locals` and refuses again, so a page never renders for nobody.
 */
export const handle: Handle = async ({ event, resolve }) => {
  const req = event.platform?.req as unknown as Record<symbol, { actor?: ActorRef; token?: string }> | undefined;
  const access = req?.[ACCESS];
  if (event.platform?.req)
    (event.platform.req as unknown as Record<symbol, string | null>)[ROUTE] = routeLabel(event.route.id);
  event.locals.actor = access?.actor ?? null;
  event.locals.sessionToken = access?.token ?? null;
  event.locals.user = event.locals.actor ? await services().whoami(event.locals.actor) : null;
  if (!event.locals.actor && !OPEN.some((re) => re.test(event.url.pathname))) {
    redirect(303, (await services().auth.needsSetup()) ? '/setup' : '/login');
  }
  const actor = event.locals.actor;
  if (actor && !ENROLMENT_OPEN.some((re) => re.test(event.url.pathname))) {
    if (await services().secondFactors.mustEnrolSecondFactor(actor)) redirect(303, '/settings/security');
  }
  event.locals.theme = themeOf(event.cookies.get(THEME_COOKIE));
  // Rendered into <html> on the server, so a dark page never flashes light first.
  const response = await resolve(event, {
    transformPageChunk: ({ html }) => html.replace('%hindsight.theme%', event.locals.theme),
  });
  return allowProviderSignOut(response);
};

/**
 * Every page has the Log out form, and signing out of a session opened through a provider ends
 * with a redirect to the provider's end-session endpoint: a redirect the browser checks against
 * the page's `form-action`, which therefore names the providers' origins besides our own.
 */
async function allowProviderSignOut(response: Response): Promise<Response> {
  const policy = response.headers.get('content-security-policy');
  if (!policy?.includes("form-action 'self'")) return response;
  const origins = await services().sso.providerOrigins();
  if (origins.length > 0)
    response.headers.set(
      'content-security-policy',
      policy.replace("form-action 'self'", `form-action 'self' ${origins.join(' ')}`),
    );
  return response;
}
