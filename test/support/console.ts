import assert from 'node:assert/strict';
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
  /** The HTML of a page as the owner: getPage. */
  page(route: string): Promise<string>;
  /** A form action posted as the owner or with another session's `cookie`: postAction. */
  action(route: string, fields: Record<string, string | string[]>, cookie?: string): Promise<ActionAnswer>;
  close(): Promise<void>;
}

/**
 * The console over real HTTP, signed in as its owner: the first start creates the owner account
 * (as an operator would on the setup page), later starts in the same catalog just log in.
 */
export async function startSignedInConsole(platform: Platform): Promise<SignedInConsole> {
  const services = createConsoleServices(platform.services);
  const server = await startWebServer({ services, host: '127.0.0.1', port: await freePort(), log: () => undefined });
  const setupToken = await services.auth.issueSetupToken();
  if (setupToken) await services.auth.createFirstOwner({ ...CONSOLE_OWNER, setupToken }, '127.0.0.1');
  const login = await fetch(`${server.url}/api/v1/session`, {
    method: 'POST',
    body: JSON.stringify(CONSOLE_OWNER),
    headers: { 'content-type': 'application/json' },
  });
  if (login.status !== 200) throw new Error(`console login failed: HTTP ${login.status} ${await login.text()}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const con: SignedInConsole = {
    url: server.url,
    services,
    fetch: (url, init = {}) =>
      fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), cookie } }),
    page: (route) => getPage(con, route),
    action: (route, fields, actionCookie) => postAction(con, route, fields, actionCookie),
    close: server.close,
  };
  return con;
}

/** A form action's answer: SvelteKit replies JSON to `x-sveltekit-action` requests; `data` is devalue text. */
export interface ActionAnswer {
  type: 'success' | 'failure' | 'redirect' | 'error';
  status: number;
  data?: string;
  location?: string;
}

/**
 * Posts a form to a page action as `use:enhance` does, as the owner or with another session's
 * `cookie`; a field given several values is sent once per value.
 */
export async function postAction(
  con: SignedInConsole,
  route: string,
  fields: Record<string, string | string[]>,
  cookie?: string,
): Promise<ActionAnswer> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    origin: con.url,
    'x-sveltekit-action': 'true',
  };
  const init = { method: 'POST', body, redirect: 'manual' as const };
  const response = cookie
    ? await fetch(`${con.url}${route}`, { ...init, headers: { ...headers, cookie } })
    : await con.fetch(`${con.url}${route}`, { ...init, headers });
  const json = response.headers.get('content-type')?.startsWith('application/json');
  assert.equal(json, true, `${route}: expected a JSON action answer, got HTTP ${response.status}`);
  return (await response.json()) as ActionAnswer;
}

/** The HTML of a console page as the owner; anything but a 200 fails with the start of the body. */
export async function getPage(con: SignedInConsole, route: string): Promise<string> {
  const response = await con.fetch(`${con.url}${route}`, { redirect: 'manual' });
  const html = await response.text();
  assert.equal(response.status, 200, `GET ${route}: HTTP ${response.status} ${html.slice(0, 300)}`);
  return html;
}

/** The action was refused, its answer saying why. */
export function assertActionRefused(answer: ActionAnswer, reason: RegExp): void {
  assert.equal(answer.type, 'failure', answer.data);
  assert.match(answer.data ?? '', reason);
}

/**
 * A restore's page once the restore no longer runs, polled every `pollMs`; as it last was when
 * `timeoutMs` ran out, so that the caller's assertion shows where it stood.
 */
export async function settledRestorePage(
  con: SignedInConsole,
  route: string,
  timeoutMs: number,
  pollMs: number,
): Promise<string> {
  let html = '';
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    html = await getPage(con, route);
    if (!/data-state="running"/.test(html)) break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return html;
}
