/**
 * The world of the single sign-on tests: the platform, the console on a free port, a real OpenID
 * Connect provider beside it with people in different groups, a workspace "blue" beside
 * "default", the provider configured with its mapping, and a browser.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Role } from '../../lib/catalog/roles.ts';
import { operatorActor, type Actor } from '../../services/authz.ts';
import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer, type WebServer } from '../../web/server.ts';
import { launchChromium } from './browser.ts';
import { startTestProvider, type Person, type TestProvider } from './oidc-provider.ts';
import { startPlatform, type Platform } from './platform.ts';
import { freePort } from './ports.ts';

export const OWNER = { email: 'owner@example.org', password: 'a long enough passphrase' };

export const PEOPLE: Record<string, Person> = {
  alice: { email: 'alice@corp.example', name: 'Alice DBA', groups: ['dba', 'blue-team', 'coffee'] },
  bob: { email: 'bob@corp.example', name: 'Bob Reader', groups: ['readers'] },
  carol: { email: 'carol@corp.example', name: 'Carol Marketing', groups: ['marketing'] },
  erin: { email: 'erin@corp.example', name: 'Erin New', groups: [] },
};

/** The mapping under test: groups → workspace roles. */
export const MAPPINGS = [
  { value: 'dba', workspace: 'default', role: 'admin' as Role },
  { value: 'readers', workspace: 'default', role: 'viewer' as Role },
  { value: 'blue-team', workspace: 'blue', role: 'editor' as Role },
];

export interface SsoWorld {
  platform: Platform;
  services: HostServices;
  server: WebServer;
  provider: TestProvider;
  browser: Browser;
  baseUrl: string;
  owner: Actor;
  /** A fresh browser context (no cookies) with one page. */
  freshPage(): Promise<{ context: BrowserContext; page: Page }>;
  /** Workspace:role of each membership of the account, sorted. */
  rolesOf(email: string): Promise<string[]>;
}

export async function startSsoWorld(starting: Partial<SsoWorld>): Promise<SsoWorld> {
  const platform = (starting.platform = await startPlatform());
  const services = (starting.services = createConsoleServices(platform.services));
  const [webPort, providerPort] = [await freePort(), await freePort()];
  const baseUrl = `http://127.0.0.1:${webPort}`;
  starting.provider = await startTestProvider({
    port: providerPort,
    redirectUri: `${baseUrl}/login/sso/callback`,
    postLogoutUri: `${baseUrl}/login`,
    people: structuredClone(PEOPLE),
  });
  starting.server = await startWebServer({ services, host: '127.0.0.1', port: webPort, log: () => undefined });
  starting.browser = await launchChromium();
  await services.access.createFirstOwner(OWNER, 'test');
  const owner = await services.access.actorForEmail(OWNER.email, 'test');
  await services.access.createWorkspace(owner, 'blue');
  const { provider } = starting;
  await services.access.addProvider(operatorActor('test'), {
    name: 'corp',
    displayName: 'Corp ID',
    issuer: provider.issuer,
    clientId: provider.clientId,
    clientSecret: provider.clientSecret,
    claim: 'groups',
    mappings: MAPPINGS,
  });
  const browser = starting.browser;
  return {
    ...(starting as SsoWorld),
    baseUrl,
    owner: await services.access.actorForEmail(OWNER.email, 'test'),
    async freshPage() {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      // The provider's pages import a web font; nothing leaves this machine.
      await context.route(/fonts\.googleapis\.com/, (route) => route.abort());
      return { context, page: await context.newPage() };
    },
    async rolesOf(email) {
      const user = await platform.runtime.catalog.access.findUserByEmail(email);
      if (!user) return [];
      return (await platform.runtime.catalog.access.membershipsOfUser(user.id))
        .map((m) => `${m.workspace}:${m.role}`)
        .sort();
    },
  };
}

export async function stopSsoWorld(world: Partial<SsoWorld>): Promise<void> {
  await world.browser?.close().catch(() => undefined);
  await world.server?.close().catch(() => undefined);
  await world.provider?.close().catch(() => undefined);
  await world.platform?.stop();
}
