import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page, type Response } from 'playwright-core';

/** Debian's chromium (scripts/setup.sh installs it); Playwright's own browser download cannot run here. */
export const CHROMIUM = process.env.HINDSIGHT_CHROMIUM ?? '/usr/bin/chromium';

/** Where the console screenshots land: kept after the run, out of git (see .gitignore). */
export const SCREENSHOT_DIR = path.resolve('test-artifacts/console');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `chromium not found at ${CHROMIUM}: run npm run setup (it installs Debian's chromium) or set HINDSIGHT_CHROMIUM`,
    );
  // Tests run as root, where chromium's sandbox cannot start.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** How far the page is wider than its viewport (0 when nothing scrolls sideways). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
}

/**
 * Collects the page's script errors and console errors. SvelteKit answers an enhanced form post
 * that the server refused (fail(401) on a wrong password, fail(502) on a failed connection test)
 * with that HTTP status, and Chromium logs every such response as "Failed to load resource". The
 * page shows the refusal, which the tests assert, so those lines are left out; only when the URL
 * they name is a form action that the server answered with that very status. Everything else stays.
 */
export function watchPageErrors(page: Page): () => string[] {
  const logged: Array<{ text: string; url: string }> = [];
  const refusedActions = new Set<string>();
  page.on('pageerror', (error) => logged.push({ text: `page error: ${error.message}`, url: '' }));
  page.on('console', (message) => {
    if (message.type() === 'error')
      logged.push({ text: `console error: ${message.text()}`, url: message.location().url });
  });
  page.on('response', (response) => {
    const request = response.request();
    if (request.method() === 'POST' && request.headers()['x-sveltekit-action'] === 'true' && response.status() >= 400) {
      refusedActions.add(`${response.status()} ${response.url()}`);
    }
  });
  return () =>
    logged
      .filter(({ text, url }) => {
        const status = /^console error: Failed to load resource: the server responded with a status of (\d{3})\b/.exec(
          text,
        )?.[1];
        return status === undefined || !refusedActions.has(`${status} ${url}`);
      })
      // Chromium's line does not say which resource: the URL does, for whoever reads a failure.
      .map(({ text, url }) => (url && !text.includes(url) ? `${text} (${url})` : text));
}

/** Waits for `locator`; when it does not come, fails with what the page shows instead (a refusal, an error page). */
export async function shown(page: Page, locator: Locator, what: string): Promise<void> {
  await locator.waitFor().catch(async (error: unknown) => {
    const shown = await page
      .locator('main')
      .innerText()
      .catch(() => '(no main element)');
    throw new Error(`${what} is not shown at ${page.url()}; the page shows:\n${shown}`, { cause: error });
  });
}

/**
 * Waits until the browser holds a console session after a sign-in was submitted, then opens `url`.
 * The wait reads the context's cookie jar rather than the page: a wait on the page that begins while
 * the sign-in's navigation is under way was seen to miss the new document now and then on a loaded
 * machine, while the cookie is there either way.
 */
export async function afterSignIn(page: Page, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.context().cookies()).some((c) => c.name === 'hindsight_session')) {
    if (Date.now() > deadline)
      throw new Error(`no console session ${timeoutMs / 1000} s after signing in; the page is at ${page.url()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await page.goto(url);
}

/** Opens `url` and waits until the page has hydrated (web/src/routes/+layout.svelte marks it), so clicks reach its handlers. */
export async function gotoHydrated(page: Page, url: string): Promise<Response | null> {
  const response = await page.goto(url);
  await page.waitForSelector('html[data-hydrated]', { state: 'attached', timeout: 60_000 });
  return response;
}
