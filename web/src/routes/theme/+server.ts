import { redirect, type RequestHandler } from '@sveltejs/kit';
import { THEME_COOKIE, themeOf } from '#lib/theme.ts';

/** The theme switch without JavaScript: the form posts here and comes back to the page it was on. */
export const POST: RequestHandler = async ({ request, cookies }) => {
  const form = await request.formData();
  const theme = themeOf(String(form.get('theme') ?? ''));
  cookies.set(THEME_COOKIE, theme, {
    path: '/',
    httpOnly: false,
    sameSite: 'lax',
    secure: false,
    maxAge: 365 * 24 * 3600,
  });
  const back = String(form.get('back') ?? '/');
  // Only same-site paths: an absolute URL here would make the form an open redirect.
  redirect(303, back.startsWith('/') && !back.startsWith('//') ? back : '/');
};
