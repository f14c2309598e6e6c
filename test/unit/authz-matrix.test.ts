import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, verifyPassword } from '../../lib/access/password.ts';
import { maskForAudit } from '../../services/audit-mask.ts';
import {
  ACTIONS,
  INSTANCE_PRIVILEGES,
  ROLES,
  createAuthz,
  isInstanceLevel,
  minimumRole,
  operatorActor,
  roleAllows,
  systemActor,
  type Action,
  type Actor,
  type Role,
} from '../../services/authz.ts';
import { memoryAccessStore } from '../support/unit-access-store.ts';

/**
 * The matrix written out by hand, action by action, so that a change to services/authz.ts that
 * widens or narrows a role shows up here as a deliberate edit.
 */
const expectedMinimum: Record<Action, Role> = {
  'history.read': 'viewer',
  'backup.download': 'editor',
  'database.create': 'editor',
  'database.update': 'editor',
  'database.schedule': 'editor',
  'backupRole.create': 'editor',
  'backup.start': 'editor',
  'backup.cancel': 'editor',
  'backup.delete': 'admin',
  'restore.start': 'editor',
  'verification.start': 'editor',
  'retention.save': 'editor',
  'retention.run': 'editor',
  'database.delete': 'admin',
  'storage.create': 'admin',
  'storage.update': 'admin',
  'storage.delete': 'admin',
  'storage.test': 'admin',
  'notifier.create': 'admin',
  'notifier.update': 'admin',
  'notifier.delete': 'admin',
  'notifier.test': 'admin',
  'hook.edit': 'admin',
  'user.manage': 'admin',
  'membership.manage': 'admin',
  'audit.read': 'admin',
  'workspace.manage': 'owner',
  'workspace.secondFactor': 'owner',
};

const rank: Record<Role, number> = { viewer: 0, editor: 1, admin: 2, owner: 3 };

describe('the role → action matrix', () => {
  it('names every action once, and the hand-written table covers exactly those', () => {
    assert.equal(new Set(ACTIONS).size, ACTIONS.length);
    assert.deepEqual([...ACTIONS].sort(), Object.keys(expectedMinimum).sort());
  });

  for (const role of ROLES) {
    it(`${role}: allowed exactly the actions whose minimum role it reaches`, () => {
      const allowed = ACTIONS.filter((a) => roleAllows(role, a)).sort();
      const expected = ACTIONS.filter((a) => rank[role] >= rank[expectedMinimum[a]]).sort();
      assert.deepEqual(allowed, expected);
    });
  }

  it('each role holds everything of the role below it, and something more', () => {
    const order: Role[] = ['viewer', 'editor', 'admin', 'owner'];
    for (let i = 1; i < order.length; i++) {
      const lower = ACTIONS.filter((a) => roleAllows(order[i - 1]!, a));
      const upper = ACTIONS.filter((a) => roleAllows(order[i]!, a));
      for (const a of lower) assert.ok(upper.includes(a), `${order[i]} lacks ${a} that ${order[i - 1]} has`);
      assert.ok(upper.length > lower.length, `${order[i]} adds nothing over ${order[i - 1]}`);
    }
  });

  it('minimumRole agrees with the table', () => {
    for (const action of ACTIONS) assert.equal(minimumRole(action), expectedMinimum[action], action);
  });

  it('the issue’s wording holds: editors run backups and restores but do not touch storages; viewers read and download only', () => {
    assert.ok(
      roleAllows('editor', 'backup.start') &&
        roleAllows('editor', 'restore.start') &&
        roleAllows('editor', 'database.create'),
    );
    assert.ok(
      !roleAllows('editor', 'storage.create') &&
        !roleAllows('editor', 'notifier.create') &&
        !roleAllows('editor', 'hook.edit'),
    );
    assert.deepEqual(ACTIONS.filter((a) => roleAllows('viewer', a)).sort(), ['history.read']);
    assert.ok(!roleAllows('admin', 'workspace.manage') && roleAllows('owner', 'workspace.manage'));
  });
});

describe('authorize', () => {
  // The decision logic alone, over an in-memory catalog; test/integration/access.test.ts runs the
  // same function against the real catalog.
  function recorder() {
    const { store, audit } = memoryAccessStore('default');
    return { entries: audit, authz: createAuthz(store) };
  }
  const user = (roles: Array<[number, Role]>, instanceOwner = false): Actor => ({
    kind: 'user',
    userId: 7,
    email: 'u@example.org',
    memberships: new Map(roles),
    instanceOwner,
    source: '10.0.0.9',
  });

  it('refuses with forbidden and a denied audit entry when the role is too small', async () => {
    const { entries, authz } = recorder();
    await assert.rejects(
      authz.authorize(user([[1, 'viewer']]), 1, 'backup.start', { type: 'database', name: 'shop' }),
      (e: Error & { kind?: string }) => {
        assert.equal(e.kind, 'forbidden');
        assert.match(e.message, /needs the editor role in workspace "default"; you are viewer/);
        return true;
      },
    );
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.outcome, 'denied');
    assert.equal(entries[0]!.action, 'backup.start');
    assert.equal(entries[0]!.actor, 'u@example.org');
    assert.equal(entries[0]!.source, '10.0.0.9');
  });

  it('answers not found, never forbidden, in a workspace the user does not belong to', async () => {
    const { authz } = recorder();
    await assert.rejects(
      authz.authorize(user([[1, 'owner']]), 2, 'history.read', { type: 'database', name: 'hr' }),
      (e: Error & { kind?: string }) => {
        assert.equal(e.kind, 'not_found');
        assert.equal(e.message, 'database "hr" is not registered (hindsight db list shows the registered ones)');
        return true;
      },
    );
  });

  it('lets the local operator do everything, everywhere', async () => {
    const { entries, authz } = recorder();
    for (const action of ACTIONS) await authz.authorize(operatorActor('root'), 2, action);
    assert.equal(entries.length, 0);
    assert.deepEqual(await authz.workspacesAllowing(operatorActor('root'), 'workspace.manage'), [1, 2]);
    assert.deepEqual(
      await authz.workspacesAllowing(
        user([
          [1, 'admin'],
          [2, 'viewer'],
        ]),
        'audit.read',
      ),
      [1],
    );
  });

  it('keeps the instance privileges from every workspace role, owner included', async () => {
    const { entries, authz } = recorder();
    const refusal = {
      privilege: 'hook.script' as const,
      reason: 'hook scripts run programs on the shared worker: only the instance owner may set them',
    };
    for (const role of ROLES) {
      await assert.rejects(
        authz.authorizeInstance(user([[1, role]]), 1, 'hook.edit', refusal, { type: 'database hook', name: 'shop' }),
        (e: Error & { kind?: string }) => {
          assert.equal(e.kind, 'forbidden');
          assert.equal(e.message, refusal.reason);
          return true;
        },
      );
    }
    assert.equal(entries.length, ROLES.length);
    for (const entry of entries) {
      assert.equal(entry.outcome, 'denied');
      assert.equal(entry.action, 'hook.edit');
      assert.equal(entry.workspaceId, 1);
      assert.match(entry.detail ?? '', /^instance privilege hook\.script: hook scripts run programs/);
    }
  });

  it('lets the instance owner, the operator and the system use them, unaudited as refusals', async () => {
    const { entries, authz } = recorder();
    const refusal = { privilege: 'storage.localPath' as const, reason: 'outside the root' };
    for (const actor of [user([[1, 'viewer']], true), operatorActor('root'), systemActor]) {
      assert.equal(isInstanceLevel(actor), true);
      await authz.authorizeInstance(actor, 1, 'storage.create', refusal);
    }
    assert.equal(isInstanceLevel(user([[1, 'owner']])), false, 'a workspace owner is not the instance owner');
    assert.equal(entries.length, 0);
    assert.ok(Object.keys(INSTANCE_PRIVILEGES).length >= 6);
  });
});

describe('audit masking', () => {
  it('masks every storage secret, passwords and URL passwords, and keeps the rest', () => {
    const masked = maskForAudit({
      type: 's3',
      bucket: 'b',
      secretAccessKey: 'AKIASECRET',
      sessionToken: 'tok',
      nested: { password: 'pw', accountKey: 'k' },
      url: 'postgres://admin:hunter2@db:5432/x',
      list: ['sftp://u:p@h/x'],
    });
    assert.deepEqual(masked, {
      type: 's3',
      bucket: 'b',
      secretAccessKey: '[secret]',
      sessionToken: '[secret]',
      nested: { password: '[secret]', accountKey: '[secret]' },
      url: 'postgres://admin:[secret]@db:5432/x',
      list: ['sftp://u:[secret]@h/x'],
    });
    assert.ok(!JSON.stringify(masked).includes('hunter2'));
  });
});

describe('password hashing', () => {
  it('scrypt with stored parameters and a salt per hash; only the right password verifies', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    assert.match(a, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    assert.notEqual(a, b, 'each hash has its own salt');
    assert.equal(await verifyPassword('correct horse battery', a), true);
    assert.equal(await verifyPassword('correct horse batterY', a), false);
    assert.equal(await verifyPassword('correct horse battery', 'scrypt$broken'), false);
  });
});
