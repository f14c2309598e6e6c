import { createConsoleServices, type HostServices } from '../../web/src/lib/server/view/index.ts';
import { startWebServer } from '../../web/server.ts';
import type { Platform } from './platform.ts';
import { freePort } from './ports.ts';

export const CONSOLE_OWNER = { email: 'owner@example.org', password: 'correct horse battery staple' };

export interface SignedInConsole {
  url: string;
  services: HostServices;
  /** fetch with the owner's session cookie. */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The console over real HTTP, signed in as its owner: the first start creates the owner account
 * (as an operator would on the setup page), later starts in the same catalog just log in.
 */
export async function startSignedInConsole(platform: Platform): Promise<SignedInConsole> {
  const services = createConsoleServices(platform.services);
  const server = await startWebServer({ services, host: '127.0.0.1', port: await freePort(), log: () => undefined });
  if (await services.auth.needsSetup()) await services.auth.createFirstOwner(CONSOLE_OWNER, '127.0.0.1');
  const login = await fetch(`${server.url}/api/v1/session`, {
    method: 'POST', body: JSON.stringify(CONSOLE_OWNER), headers: { 'content-type': 'application/json' },
  });
  if (login.status !== 200) throw new Error(`console login failed: HTTP ${login.status} ${await login.text()}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  return {
    url: server.url,
    services,
    fetch: (url, init = {}) => fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), cookie } }),
    close: server.close,
  };
}
