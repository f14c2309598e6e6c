import type { Cookies } from '@sveltejs/kit';
import { services } from './services.ts';

type SessionEvent = { request: Request; cookies: Cookies; getClientAddress: () => string };

/** Logs `email` in and sets the session cookie: HTTP-only, same-site lax, secure behind an https public URL. */
export async function startSession(event: SessionEvent, email: string, password: string): Promise<void> {
  const { token, expiresAt } = await services().auth.login({
    email,
    password,
    ip: event.getClientAddress(),
    userAgent: event.request.headers.get('user-agent'),
  });
  const { name, secure } = services().auth.cookie;
  event.cookies.set(name, token, { path: '/', httpOnly: true, sameSite: 'lax', secure, expires: expiresAt });
}
