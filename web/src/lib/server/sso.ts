/** The single sign-on round trip's pieces shared by its routes: the callback URL and the state cookie. */
import type { Cookies } from '@sveltejs/kit';
import { services } from './services.ts';

/** Holds the state of the sign-in under way: the callback must come back to the browser that left. */
export const SSO_STATE_COOKIE = 'hindsight_sso_state';
const STATE_PATH = '/login/sso';

/** The console's origin as the provider sees it: HINDSIGHT_PUBLIC_URL's, else the request's own. */
export function publicBase(url: URL): string {
  return services().sso.publicUrl ?? url.origin;
}

export const callbackUri = (url: URL) => `${publicBase(url)}/login/sso/callback`;

export function setStateCookie(cookies: Cookies, state: string): void {
  cookies.set(SSO_STATE_COOKIE, state, {
    path: STATE_PATH,
    httpOnly: true,
    sameSite: 'lax',
    secure: services().auth.cookie.secure,
    maxAge: 600,
  });
}

/** Reads and clears the state cookie: each sign-in is answered once. */
export function takeStateCookie(cookies: Cookies): string | undefined {
  const state = cookies.get(SSO_STATE_COOKIE);
  cookies.delete(SSO_STATE_COOKIE, {
    path: STATE_PATH,
    httpOnly: true,
    sameSite: 'lax',
    secure: services().auth.cookie.secure,
  });
  return state;
}

/** Sets the session cookie as a password login does (web/src/lib/server/session.ts). */
export function setSessionCookie(cookies: Cookies, token: string, expiresAt: Date): void {
  const { name, secure } = services().auth.cookie;
  cookies.set(name, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, expires: expiresAt });
}

/** Only same-site paths: `next` must not send a freshly signed-in user elsewhere. */
export const safeNext = (value: string | null) =>
  value && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
