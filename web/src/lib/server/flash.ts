import type { Cookies } from '@sveltejs/kit';
import { services } from './services.ts';

const FLASH_COOKIE = 'hindsight_flash';

/**
 * A one-time notice for the page a redirect leads to, e.g. the overview after a database was
 * removed: a short-lived HTTP-only cookie rather than the address, so a link cannot forge it and a
 * reload does not repeat it.
 */
export function setFlash(cookies: Cookies, text: string): void {
  const { secure } = services().auth.cookie;
  cookies.set(FLASH_COOKIE, text, { path: '/', httpOnly: true, sameSite: 'lax', secure, maxAge: 60 });
}

/** The notice left for this page, once: reading it clears it. */
export function takeFlash(cookies: Cookies): string | null {
  const text = cookies.get(FLASH_COOKIE);
  if (text === undefined) return null;
  cookies.delete(FLASH_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: services().auth.cookie.secure });
  return text;
}
