/**
 * The second-factor tests' world: a platform without a worker (sign-in needs none), the console at
 * http://localhost:<port> (a passkey's relying party must be a host name, and the console's public
 * URL names it), Debian's chromium with a virtual authenticator, and accounts of every role.
 */
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { Secret, TOTP } from 'otpauth';
import { operatorActor, type Role } from '../../services/authz.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { emailOf, httpRequest, loginAt, PASSWORD, ROLE_LIST, type Answer } from './access-fixture.ts';
import { gotoHydrated, launchChromium, shown } from './browser.ts';
import { startPlatform, type Platform } from './platform.ts';
import { freePort } from './ports.ts';
import { addAccount } from './accounts.ts';

export interface SecondFactorWorld {
  platform: Platform;
  services: HostServices;
  server: WebServer;
  url: string;
  browser: Browser;
  webLog: string[];
}

export async function startSecondFactorWorld(started: Partial<SecondFactorWorld>): Promise<SecondFactorWorld> {
  const platform = (started.platform = await startPlatform());
  const port = await freePort();
  const url = `http://localhost:${port}`;
  // The relying party comes from the public URL, read when a ceremony starts: the console's own address here.
  (platform.runtime.config as { publicUrl: string }).publicUrl = url;
  const services = (started.services = createConsoleServices(platform.services));
  const webLog: string[] = (started.webLog = []);
  started.server = await startWebServer({ services, host: '127.0.0.1', port, log: (line) => webLog.push(line) });
  started.browser = await launchChromium();
  const setupToken = (await services.auth.issueSetupToken())!;
  await services.auth.createFirstOwner({ email: emailOf('owner'), password: PASSWORD, setupToken }, '127.0.0.1');
  for (const role of ROLE_LIST.filter((r) => r !== 'owner'))
    await addAccount(services.access, operatorActor('test'), { email: emailOf(role), password: PASSWORD, role });
  return { ...(started as SecondFactorWorld), url };
}

export async function stopSecondFactorWorld(started: Partial<SecondFactorWorld>): Promise<void> {
  await started.browser?.close().catch(() => undefined);
  await started.server?.close().catch(() => undefined);
  await started.platform?.stop();
}

/** The code an authenticator app shows `offsetSteps` steps from now, made from the secret the page showed. */
export function codeAt(secret: string, offsetSteps = 0): string {
  const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

/** A six-digit code that is none of the app's codes around now. */
export function wrongCode(secret: string): string {
  const near = new Set([-1, 0, 1].map((s) => codeAt(secret, s)));
  for (let n = 0; ; n++) {
    const code = String(n).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

/** A browser context of its own, with Chrome's virtual authenticator (a passkey store) when asked for. */
export async function browserPage(
  world: SecondFactorWorld,
  options: { authenticator?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page; cdp?: CDPSession }> {
  const context = await world.browser.newContext({ baseURL: world.url, viewport: { width: 1100, height: 900 } });
  // A sign-in here is a password hash, a WebAuthn ceremony and a full page load, three files side by side
  // on two cores: a bound for waiting on them, not a speed expectation.
  context.setDefaultTimeout(90_000);
  context.setDefaultNavigationTimeout(90_000);
  const page = await context.newPage();
  if (!options.authenticator) return { context, page };
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { context, page, cdp };
}

/** Types the password on /login; the page it lands on is the caller's to check. */
export async function passwordStep(page: Page, role: Role): Promise<void> {
  await gotoHydrated(page, '/login');
  await page.getByLabel('Email').fill(emailOf(role));
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
}

export async function logOut(page: Page): Promise<void> {
  await page.context().clearCookies();
  await gotoHydrated(page, '/login');
}

/** The alert the page shows, waiting for it. */
export async function alertText(page: Page, what: string): Promise<string> {
  const alert = page.getByRole('alert').first();
  await shown(page, alert, what);
  return alert.innerText();
}

/** Signed in over HTTP as `role` (an account without a second factor): its session cookie. */
export async function sessionCookie(world: SecondFactorWorld, role: Role): Promise<string> {
  const answer = await loginAt(world.url, emailOf(role));
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.cookie;
}

export const request = (world: SecondFactorWorld, method: string, url: string, cookie?: string): Promise<Answer> =>
  httpRequest(world.url, method, url, { cookie });
