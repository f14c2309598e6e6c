/**
 * The Temporal UI's side of the codec endpoint, in a real browser: a console session, and the
 * UI's request to `/codec/decode` (`fetch` with `credentials: 'include'`, JSON and `X-Namespace`)
 * made from the UI's own port, so that the browser itself sends the preflight, attaches (or
 * withholds) the console's session cookie and enforces CORS.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { SESSION_COOKIE } from '../../web/src/lib/server/view/index.ts';

/** A fresh browser context signed in through the console's own login page (the session cookie is the proof). */
export async function signedInContext(
  browser: Browser,
  consoleUrl: string,
  email: string,
  password: string,
): Promise<BrowserContext> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${consoleUrl}/login`, { waitUntil: 'networkidle' });
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await page.click('button[type="submit"]');
  const deadline = Date.now() + 30_000;
  while (!(await context.cookies(consoleUrl)).some((c) => c.name === SESSION_COOKIE)) {
    if (Date.now() > deadline)
      throw new Error(
        `no console session after signing in as ${email}: the page at ${page.url()} says ${await page.innerText('body')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await page.close();
  return context;
}

export interface CodecAnswer {
  status: number;
  body: string;
}

/** POST `<endpoint>/<direction>` from a page at the UI's origin, as the Temporal UI sends it. */
export async function callCodecFromUi(
  context: BrowserContext,
  uiOrigin: string,
  url: string,
  payloads: unknown,
): Promise<CodecAnswer> {
  const page = await context.newPage();
  try {
    await page.goto(uiOrigin);
    return await page.evaluate(
      async ({ url, payloads }) => {
        try {
          const response = await fetch(url, {
            method: 'POST',
            credentials: 'include',
            headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default' },
            body: JSON.stringify({ payloads }),
          });
          return { status: response.status, body: await response.text() };
        } catch (error) {
          // What a page sees when CORS withholds the answer.
          return { status: 0, body: String(error) };
        }
      },
      { url, payloads },
    );
  } finally {
    await page.close();
  }
}
