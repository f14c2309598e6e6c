/**
 * The installation the instance-privilege tests act on: a database `shop` in the default
 * workspace, a second workspace `blue`, and signed-in sessions for an admin of each workspace,
 * blue's owner and the instance owner.
 */
import path from 'node:path';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { operatorActor, type Actor } from '../../services/authz.ts';
import { actorOps } from './actor-ops.ts';
import { apiLogin } from './api-client.ts';
import { CONSOLE_OWNER, startSignedInConsole, type SignedInConsole } from './console.ts';
import type { Platform } from './platform.ts';
import { startSeededPlatform } from './seeded-platform.ts';
import { addAccount } from './accounts.ts';

export const PRIVILEGE_PASSWORD = 'correct horse battery staple';

export interface PrivilegeFixture {
  platform: Platform;
  app: SignedInConsole;
  source: PgTarget;
  /** The storage root of workspace `blue`. */
  blueRoot: string;
  /** Session cookies by email, and the instance owner's under `instance`. */
  cookies: Map<string, string>;
}

/** The users below the instance owner: [email, workspace, role]. */
const USERS: Array<[string, string, 'admin' | 'owner']> = [
  ['admin@example.org', 'default', 'admin'],
  ['blue-owner@example.org', 'blue', 'owner'],
  ['blue-admin@example.org', 'blue', 'admin'],
];

/** Starts the platform (without a worker) and the console; a failure half-way stops the platform. */
export async function startPrivilegeFixture(): Promise<PrivilegeFixture> {
  const { platform, source } = await startSeededPlatform('shop', 'create table items (id int primary key)', {
    worker: false,
  });
  try {
    return await seedPrivilegeFixture(platform, source);
  } catch (error) {
    await platform.stop();
    throw error;
  }
}

async function seedPrivilegeFixture(platform: Platform, source: PgTarget): Promise<PrivilegeFixture> {
  const app = await startSignedInConsole(platform);
  const operator = operatorActor('test');
  await actorOps(platform.services, operator).addDatabase({
    name: 'shop',
    url: targetUrl(source),
    storages: 'local',
    verifyAfterBackup: false,
    skipCheck: true,
  });
  await app.services.access.createWorkspace(operator, 'blue');
  const owner: Actor = await app.services.access.actorForEmail(CONSOLE_OWNER.email, 'test');
  for (const [email, workspace, role] of USERS) {
    // The default workspace's admin is made by its owner, blue's people by the operator who made blue.
    const maker = workspace === 'default' ? owner : operator;
    await addAccount(app.services.access, maker, { email, password: PRIVILEGE_PASSWORD, workspace, role });
  }
  const cookies = new Map<string, string>();
  for (const [email] of USERS) cookies.set(email, await apiLogin(app.url, email, PRIVILEGE_PASSWORD));
  cookies.set('instance', await apiLogin(app.url, CONSOLE_OWNER.email, CONSOLE_OWNER.password));
  const blueRoot = path.join(platform.config.localStorageRoot, 'blue');
  return { platform, app, source, blueRoot, cookies };
}
