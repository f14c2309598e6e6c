/**
 * The case tables of the access tests: one mutating endpoint (or CLI command) per action with
 * what an allowed caller gets, and the probes a user of one workspace sends at another's names.
 */
import assert from 'node:assert/strict';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { operatorActor, type Action, type Role } from '../../services/authz.ts';
import type { Services } from '../../services/index.ts';
import { ROLE_LIST, type Answer } from './access-fixture.ts';

export const S3_SECRET = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
const S3_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';

export interface HttpActionCase {
  action: Action;
  call: (role: Role) => [string, string, unknown?];
  allowed: number[];
}

/** The actions the HTTP matrix must cover at least. */
export const MATRIX_ACTIONS: Action[] = [
  'database.create',
  'database.delete',
  'storage.create',
  'storage.delete',
  'storage.test',
  'backup.start',
  'backup.cancel',
  'backup.download',
  'backup.delete',
  'restore.start',
  'user.manage',
  'workspace.manage',
  'audit.read',
];

const s3Storage = (role: Role) => ({
  name: `s3-${role}`,
  config: { type: 's3', bucket: 'acme', region: 'us-east-1', accessKeyId: S3_KEY_ID, secretAccessKey: S3_SECRET },
  skipCheck: true,
});

/** One mutating endpoint per action, with the status an allowed caller gets. */
export function httpActionCases(source: PgTarget, shopBackup: string): HttpActionCase[] {
  const newDatabase = (r: Role) => ({
    name: `db-${r}`,
    url: targetUrl(source),
    storages: 'local',
    skipCheck: true,
    verifyAfterBackup: false,
  });
  const member = '/api/v1/workspaces/default/members/member@example.org';
  const invitations = '/api/v1/workspaces/default/invitations';
  return [
    { action: 'database.create', call: (r) => ['POST', '/api/v1/databases', newDatabase(r)], allowed: [201] },
    {
      action: 'database.schedule',
      call: () => ['PUT', '/api/v1/databases/shop/schedule', { schedule: '0 4 * * *', timezone: 'Europe/Paris' }],
      allowed: [200],
    },
    { action: 'database.delete', call: (r) => ['DELETE', `/api/v1/databases/tmp-${r}`], allowed: [200] },
    { action: 'storage.create', call: (r) => ['POST', '/api/v1/storages', s3Storage(r)], allowed: [201] },
    { action: 'storage.test', call: () => ['POST', '/api/v1/storages/local/test'], allowed: [200] },
    { action: 'storage.delete', call: (r) => ['DELETE', `/api/v1/storages/del-${r}`], allowed: [200] },
    { action: 'backup.start', call: () => ['POST', '/api/v1/databases/shop/backups', {}], allowed: [202] },
    // The backup is complete: an allowed caller gets the domain's answer, not a refusal.
    { action: 'backup.cancel', call: () => ['POST', `/api/v1/backups/${shopBackup}/cancel`, {}], allowed: [409] },
    { action: 'backup.download', call: () => ['GET', `/api/v1/backups/${shopBackup}/download`], allowed: [200] },
    // A dry run: an allowed caller learns who holds the backup, which the other cases still need.
    { action: 'backup.delete', call: () => ['DELETE', `/api/v1/backups/${shopBackup}?dryRun=1`], allowed: [200] },
    {
      action: 'restore.start',
      call: (r) => [
        'POST',
        '/api/v1/restores',
        { database: 'shop', backupId: shopBackup, to: { database: `restored_${r}` } },
      ],
      allowed: [202],
    },
    {
      action: 'user.manage',
      call: (r) => [
        'POST',
        '/api/v1/users',
        { email: `invited-by-${r}@example.org`, role: 'viewer', workspace: 'default' },
      ],
      allowed: [201],
    },
    { action: 'workspace.manage', call: (r) => ['POST', '/api/v1/workspaces', { name: `ws-${r}` }], allowed: [201] },
    {
      action: 'membership.manage',
      call: (r) => ['PUT', member, { role: r === 'owner' ? 'editor' : 'viewer' }],
      allowed: [200],
    },
    // Granting the owner role is the owners' business (workspace.manage), even for admins.
    { action: 'workspace.manage', call: () => ['PUT', member, { role: 'owner' }], allowed: [200] },
    {
      action: 'membership.manage',
      call: (r) => ['POST', invitations, { email: `invitee-of-${r}@example.org`, role: 'viewer' }],
      allowed: [201],
    },
    // An invitation as owner is the owners' business too.
    {
      action: 'workspace.manage',
      call: (r) => ['POST', invitations, { email: `owner-invitee-of-${r}@example.org`, role: 'owner' }],
      allowed: [201],
    },
    { action: 'audit.read', call: () => ['GET', '/api/v1/audit'], allowed: [200] },
    { action: 'history.read', call: () => ['GET', '/api/v1/databases/shop/backups'], allowed: [200] },
  ];
}

/** An allowed caller gets one of the case's statuses; a refused one a 403 that names the role it needs. */
export function assertMatrixAnswer(role: Role, c: HttpActionCase, allowed: boolean, answer: Answer): void {
  const got = `${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`;
  if (allowed) {
    assert.ok(c.allowed.includes(answer.status), `${role} ${c.action}: expected ${c.allowed.join('/')}, got ${got}`);
    return;
  }
  assert.equal(answer.status, 403, `${role} ${c.action}: expected 403, got ${got}`);
  assert.match(
    (answer.body as { error: { message: string } }).error.message,
    new RegExp(`needs the \\w+ role in workspace "default"; you are ${role}`),
  );
}

/** instanceOnly: past the role check, only the instance owner (the first owner here) may. */
export interface CliActionCase {
  action: Action;
  args: (r: Role) => string[];
  instanceOnly?: boolean;
}

export const webhookArgs = (name: string, url: string) => [
  'notifier',
  'add',
  name,
  '--type',
  'webhook',
  '--config',
  JSON.stringify({ url }),
];

/** The notifier each role's CLI delete case removes (`pre-<role>`), made by the operator through the services. */
export async function savePreNotifiers(services: Services): Promise<void> {
  for (const role of ROLE_LIST)
    await services.notifiers.save(operatorActor('test'), `pre-${role}`, {
      type: 'webhook',
      url: 'http://127.0.0.1:9/pre',
    });
}

export const CLI_ACTION_CASES: CliActionCase[] = [
  { action: 'database.schedule', args: () => ['db', 'schedule', 'shop', '0 5 * * *'] },
  { action: 'storage.test', args: () => ['storage', 'test', 'local'] },
  { action: 'workspace.manage', args: (r) => ['workspace', 'create', `cli-${r}`] },
  { action: 'audit.read', args: () => ['audit', '--json'] },
  { action: 'notifier.create', args: (r) => webhookArgs(`hook-${r}`, 'http://127.0.0.1:9/hook') },
  { action: 'notifier.delete', args: (r) => ['notifier', 'remove', `pre-${r}`] },
  {
    action: 'hook.edit',
    args: () => ['hook', 'set', 'shop', 'post_restore', '--script', 'exit 0'],
    instanceOnly: true,
  },
];

/** Every way to reach workspace `blue`'s things by name from workspace `default`. */
export function crossWorkspaceProbes(source: PgTarget, hrBackup: string): Array<[string, string, unknown?]> {
  const sneaky = { name: 'sneaky', url: targetUrl(source), storages: 'bluestore', skipCheck: true };
  return [
    ['GET', '/api/v1/databases/secret-hr/backups'],
    ['POST', '/api/v1/databases/secret-hr/backups', {}],
    ['PUT', '/api/v1/databases/secret-hr/schedule', { schedule: '0 1 * * *' }],
    ['DELETE', '/api/v1/databases/secret-hr'],
    ['GET', `/api/v1/backups/${hrBackup}`],
    ['GET', `/api/v1/backups/${hrBackup}/download`],
    ['POST', `/api/v1/backups/${hrBackup}/cancel`, {}],
    ['POST', '/api/v1/restores', { database: 'secret-hr', to: { database: 'stolen' } }],
    ['POST', '/api/v1/restores', { database: 'shop', backupId: hrBackup, to: { database: 'stolen2' } }],
    ['DELETE', '/api/v1/storages/bluestore'],
    ['POST', '/api/v1/storages/bluestore/test'],
    ['POST', '/api/v1/databases', sneaky],
    ['GET', '/api/v1/audit?workspace=blue'],
    ['PUT', '/api/v1/workspaces/blue/members/owner@example.org', { role: 'owner' }],
    ['POST', '/api/v1/workspaces/blue/invitations', { email: 'owner@example.org', role: 'owner' }],
    // Blue's owner never accepted an invitation to default: default's owner cannot give them a role there.
    ['PUT', '/api/v1/workspaces/default/members/blue@example.org', { role: 'viewer' }],
  ];
}
