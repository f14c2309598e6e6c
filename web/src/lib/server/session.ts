import type { Cookies } from '@sveltejs/kit';
import { setPendingCookie } from './second-factor-session.ts';
import { services } from './services.ts';

type SessionEvent = { request: Request; cookies: Cookies; getClientAddress: () => string };

/**
 * Logs `email` in and sets the session cookie: HTTP-only, same-site lax, secure behind an https public URL.
 * An account with a second factor gets no session yet, only the pending second step's cookie.
 */
export async function startSession(
  event: SessionEvent,
  email: string,
  password: string,
): Promise<'signed-in' | 'second-factor'> {
  const result = await services().auth.login({
    email,
    password,
    ip: event.getClientAddress(),
    userAgent: event.request.headers.get('user-agent'),
  });
  if ('secondFactor' in result) {
    setPendingCookie(event.cookies, result.secondFactor);
    return 'second-factor';
  }
  const { token, expiresAt } = result;
  const { name, secure } = services().auth.cookie;
  event.cookies.set(name, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, expires: expiresAt });
  return 'signed-in';
}
