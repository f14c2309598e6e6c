/**
 * The tenants of the access tests: workspace `default` with database `shop` on storage `local`,
 * workspace `blue` with `secret-hr` on `bluestore`, one account per role signed in over HTTP.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { actorOps } from './actor-ops.ts';
import { operatorActor, type Role } from '../../services/authz.ts';
import type { HostServices } from '../../web/src/lib/server/view/index.ts';
import type { Platform } from './platform.ts';
import { addAccount } from './accounts.ts';

export const PASSWORD = 'correct horse battery staple';
export const ROLE_LIST: Role[] = ['viewer', 'editor', 'admin', 'owner'];
export const emailOf = (role: Role) => `${role}@example.org`;

export interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}
export interface RequestOptions {
  cookie?: string | undefined;
  json?: unknown;
  headers?: Record<string, string>;
}

/** One HTTP request to the console at `baseUrl`, its body parsed when it is JSON. */
export async function httpRequest(
  baseUrl: string,
  method: string,
  url: string,
  options: RequestOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const response = await fetch(`${baseUrl}${url}`, { method, headers, body, redirect: 'manual' });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON: a page or a download */
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** POST /api/v1/session: the answer and the session cookie it set (empty when refused). */
export async function loginAt(
  baseUrl: string,
  email: string,
  password = PASSWORD,
): Promise<Answer & { cookie: string }> {
  const answer = await httpRequest(baseUrl, 'POST', '/api/v1/session', { json: { email, password } });
  return { ...answer, cookie: (answer.headers.get('set-cookie') ?? '').split(';')[0]! };
}

export interface Tenants {
  shopBackup: string;
  hrBackup: string;
  cookies: Map<string, string>;
}

/**
 * Both workspaces with their databases (and a `tmp-<role>` database and `del-<role>` storage per
 * role to delete), one backup of each workspace's database, and a signed-in account per role plus
 * `blue@example.org`, owner of `blue` only.
 */
export async function seedTenants(
  platform: Platform,
  services: HostServices,
  source: PgTarget,
  baseUrl: string,
): Promise<Tenants> {
  const ops = actorOps(platform.services, operatorActor('test'));
  const url = targetUrl(source);
  await ops.addDatabase({ name: 'shop', url, storages: 'local', verifyAfterBackup: false });
  const blue = await services.access.createWorkspace(operatorActor('test'), 'blue');
  const blueDir = path.join(platform.dir, 'blue');
  await mkdir(blueDir, { recursive: true });
  await ops.saveStorage('bluestore', { type: 'local', path: blueDir }, { workspaceId: blue.id });
  await ops.addDatabase({
    name: 'secret-hr',
    url,
    storages: 'bluestore',
    verifyAfterBackup: false,
    workspaceId: blue.id,
  });
  for (const role of ROLE_LIST) {
    await ops.addDatabase({ name: `tmp-${role}`, url, storages: 'local', verifyAfterBackup: false, skipCheck: true });
    const deletable = { type: 'local' as const, path: path.join(platform.dir, `del-${role}`) };
    await ops.saveStorage(`del-${role}`, deletable, { skipCheck: true });
  }
  const shopBackup = (await (await ops.startBackup('shop')).result()).backupId;
  const hrBackup = (await (await ops.startBackup('secret-hr')).result()).backupId;

  await services.access.createFirstOwner({ email: emailOf('owner'), password: PASSWORD }, '127.0.0.1');
  const owner = await services.access.actorForEmail(emailOf('owner'), 'test');
  for (const role of ['viewer', 'editor', 'admin'] as Role[]) {
    await addAccount(services.access, owner, { email: emailOf(role), password: PASSWORD, workspace: 'default', role });
  }
  const blueOwner = { email: 'blue@example.org', password: PASSWORD, workspace: 'blue', role: 'owner' as const };
  await addAccount(services.access, operatorActor('test'), blueOwner);
  const member = { email: 'member@example.org', password: PASSWORD, workspace: 'default', role: 'viewer' as const };
  await addAccount(services.access, owner, member);
  const cookies = new Map<string, string>();
  for (const role of ROLE_LIST) {
    const session = await loginAt(baseUrl, emailOf(role));
    assert.equal(session.status, 200, JSON.stringify(session.body));
    cookies.set(role, session.cookie);
  }
  cookies.set('blue', (await loginAt(baseUrl, 'blue@example.org')).cookie);
  return { shopBackup, hrBackup, cookies };
}
