/**
 * Who hears a notification (lib/notify/audience.ts): a workspace-wide one only the notifiers of its
 * own workspace, a database's only those attached to the database, each only with the event on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { audience, hears, type CandidateNotifier } from '../../lib/notify/audience.ts';

const all = ['database_discovered', 'database_dropped', 'backup_failed'];
const notifiers: CandidateNotifier[] = [
  { id: 1, workspaceId: 1, events: all, databaseIds: [10] },
  { id: 2, workspaceId: 2, events: all, databaseIds: [20] },
  { id: 3, workspaceId: 2, events: ['backup_failed'], databaseIds: [20] },
  { id: 4, workspaceId: 2, events: all, databaseIds: [] },
];

describe('notification audience', () => {
  it("sends a workspace-wide notification to its own workspace's notifiers only, whatever else exists", () => {
    const discovered = { id: 100, databaseId: null, workspaceId: 2, event: 'database_discovered' };
    assert.deepEqual(audience([discovered], notifiers), [
      [100, 2],
      [100, 4],
    ]);
    assert.deepEqual(
      audience([{ ...discovered, workspaceId: 1 }], notifiers),
      [[100, 1]],
      'workspace 1 hears its own, not workspace 2',
    );
    assert.deepEqual(audience([{ ...discovered, workspaceId: 3 }], notifiers), [], 'a workspace with no notifier');
  });

  it("sends a database's notification to the notifiers attached to it, not to its whole workspace", () => {
    const failed = { id: 7, databaseId: 20, workspaceId: 2, event: 'backup_failed' };
    assert.deepEqual(audience([failed], notifiers), [
      [7, 2],
      [7, 3],
    ]);
    assert.equal(hears(notifiers[3]!, failed), false, 'in the workspace but not attached');
    assert.equal(hears(notifiers[0]!, { ...failed, databaseId: 10, workspaceId: 1 }), true);
  });

  it('leaves out a notifier whose toggle for the event is off', () => {
    const dropped = { id: 8, databaseId: null, workspaceId: 2, event: 'database_dropped' };
    assert.equal(hears(notifiers[2]!, { ...dropped, databaseId: 20 }), false);
    assert.deepEqual(audience([dropped, { ...dropped, id: 9, event: 'verification_failed' }], notifiers), [
      [8, 2],
      [8, 4],
    ]);
  });
});
