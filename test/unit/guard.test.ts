import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Role } from '../../lib/catalog/access.ts';
import type { Actor } from '../../services/authz.ts';
import { Guard } from '../../services/guard.ts';
import { memoryAccessStore } from '../support/unit-access-store.ts';

/** The guard over an in-memory catalog: its decisions alone (the real catalog is in test/integration/access.test.ts). */
function guarded() {
  const { store, audit } = memoryAccessStore();
  return { audit, guard: new Guard(store) };
}

const user = (role: Role): Actor => ({
  kind: 'user',
  userId: 7,
  email: `${role}@example.org`,
  memberships: new Map([[1, role]]),
  instanceOwner: false,
  source: 'console',
});

describe('the guard', () => {
  it('runs a read for a member without writing the audit log', async () => {
    const { guard, audit } = guarded();
    const seen = await guard.run(user('viewer'), { database: 'shop' }, 'history.read', async (g) => g);
    assert.deepEqual(seen, { workspaceId: 1, database: 'shop', target: { type: 'database', name: 'shop' } });
    assert.equal(audit.length, 0);
  });

  it('runs a change the role allows and records it with the settings before and after', async () => {
    const { guard, audit } = guarded();
    const result = await guard.run(
      user('editor'),
      { backup: 'b1' },
      'backup.cancel',
      async () => ({ workflowId: 'backup/shop/1' }),
      { before: { status: 'running' }, after: (r) => ({ workflowId: r.workflowId }) },
    );
    assert.deepEqual(result, { workflowId: 'backup/shop/1' });
    assert.equal(audit.length, 1);
    assert.deepEqual(
      [audit[0]!.action, audit[0]!.outcome, audit[0]!.workspaceId, audit[0]!.targetType, audit[0]!.targetName],
      ['backup.cancel', 'ok', 1, 'backup', 'b1'],
    );
    assert.deepEqual([audit[0]!.before, audit[0]!.after], [{ status: 'running' }, { workflowId: 'backup/shop/1' }]);
  });

  it('refuses a role that does not allow the action, audits the refusal and never runs the work', async () => {
    const { guard, audit } = guarded();
    let ran = false;
    await assert.rejects(
      guard.run(user('viewer'), { database: 'shop' }, 'backup.start', async () => {
        ran = true;
      }),
      (e: Error & { kind?: string }) =>
        e.kind === 'forbidden' && /backup\.start on database "shop" needs the editor role/.test(e.message),
    );
    assert.equal(ran, false);
    assert.deepEqual(
      audit.map((e) => [e.action, e.outcome]),
      [['backup.start', 'denied']],
    );
  });

  it('answers "not found" for another workspace\'s object and for a name that exists nowhere, alike', async () => {
    const { guard } = guarded();
    for (const scope of [{ database: 'hr' }, { database: 'nowhere' }]) {
      await assert.rejects(
        guard.run(user('owner'), scope, 'history.read', async () => 'leaked'),
        (e: Error & { kind?: string }) =>
          e.kind === 'not_found' && e.message.startsWith(`database "${scope.database}" is not registered`),
      );
    }
    await assert.rejects(
      guard.require(user('owner'), { storage: 'elsewhere' }, 'storage.test'),
      /storage "elsewhere" does not exist/,
    );
  });

  it('records a change that failed with its reason, and passes the error on', async () => {
    const { guard, audit } = guarded();
    await assert.rejects(
      guard.run(user('admin'), { storage: 'local' }, 'storage.delete', async () => {
        throw new Error('disk on fire');
      }),
      /disk on fire/,
    );
    assert.deepEqual(
      audit.map((e) => [e.action, e.outcome, e.detail]),
      [['storage.delete', 'failed', 'disk on fire']],
    );
  });

  it('lets the operator and the system act in every workspace, audited under their names', async () => {
    const { guard, audit } = guarded();
    await guard.run(
      { kind: 'operator', name: 'cli:root', source: 'cli' },
      { database: 'hr' },
      'database.delete',
      async () => undefined,
    );
    await guard.run({ kind: 'system', source: 'system' }, { workspace: 2 }, 'notifier.create', async () => undefined);
    assert.deepEqual(
      audit.map((e) => [e.actor, e.workspaceId, e.outcome]),
      [
        ['cli:root', 2, 'ok'],
        ['system', 2, 'ok'],
      ],
    );
  });
});
