/**
 * The cookies of a sign-in in two steps: the pending second factor (scoped to /login, where only
 * the second step reads it) and, once it passed, the session cookie as web/src/lib/server/session.ts sets it.
 */
import type { Cookies } from '@sveltejs/kit';
import { services } from './services.ts';
import { PASSKEY_SIGN_IN_COOKIE, PENDING_COOKIE } from './view/second-factors.ts';

const scoped = (secure: boolean, expires?: Date) =>
  ({ path: '/login', httpOnly: true, sameSite: 'strict', secure, ...(expires ? { expires } : {}) }) as const;

export function setPendingCookie(cookies: Cookies, pending: { token: string; expiresAt: Date }): void {
  cookies.set(PENDING_COOKIE, pending.token, scoped(services().auth.cookie.secure, pending.expiresAt));
}

export const pendingToken = (cookies: Cookies): string | undefined => cookies.get(PENDING_COOKIE);

export function setPasskeySignInCookie(cookies: Cookies, token: string): void {
  cookies.set(PASSKEY_SIGN_IN_COOKIE, token, scoped(services().auth.cookie.secure, new Date(Date.now() + 5 * 60_000)));
}

export const passkeySignInToken = (cookies: Cookies): string | undefined => cookies.get(PASSKEY_SIGN_IN_COOKIE);

/** The session cookie for a session the second step opened; the pending cookies go. */
export function setSessionCookie(cookies: Cookies, session: { token: string; expiresAt: Date }): void {
  const { name, secure } = services().auth.cookie;
  cookies.set(name, session.token, { path: '/', httpOnly: true, sameSite: 'lax', secure, expires: session.expiresAt });
  cookies.delete(PENDING_COOKIE, scoped(secure));
  cookies.delete(PASSKEY_SIGN_IN_COOKIE, scoped(secure));
}

/** The client as the services record it. */
export const clientOf = (event: { request: Request; getClientAddress: () => string }) => ({
  ip: event.getClientAddress(),
  userAgent: event.request.headers.get('user-agent'),
});

/** Only same-site paths: `next` must not send a freshly signed-in user elsewhere (as on /login). */
export const safeNext = (value: string | null): string =>
  value && value.startsWith('/') && !value.startsWith('//') ? value : '/';
