import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gfsRetentionWorkflow } from '../../temporal/contracts/retention.ts';
import { recording, startTimeSkipping, TEST_TIMEOUT, type WorkflowTestPlatform } from './support.ts';

const plan = {
  keep: [{ id: 'b3', reasons: ['daily'] }],
  delete: [{ id: 'b1', reason: 'beyond 7 daily' }, { id: 'b2', reason: 'beyond 7 daily' }],
  keepBaseBackups: [], deleteBaseBackups: [], deleteWalBefore: null, summary: 'keep 1, delete 2',
};

describe('gfsRetention with time skipping', () => {
  let platform: WorkflowTestPlatform;
  before(async () => { platform = await startTimeSkipping(['planRetentionFor', 'deleteBackupEverywhere']); });
  after(async () => { await platform?.stop(); });

  const prune = (dryRun: boolean, refused: string[]) => {
    const fake = recording({
      planRetentionFor: async () => plan,
      deleteBackupEverywhere: async (input) => (refused.includes(input.backupId) ? { deleted: false, why: 'a restore reads it' } : { deleted: true }),
    });
    const outcome = platform.execute(fake, gfsRetentionWorkflow, { database: 'app', dryRun });
    return { fake, outcome };
  };

  it('deletes what the plan says, and reports a backup the deletion-time check kept', TEST_TIMEOUT, async () => {
    const { fake, outcome } = prune(false, ['b2']);
    const result = await outcome;
    assert.deepEqual(fake.named('deleteBackupEverywhere'), [
      { database: 'app', backupId: 'b1', reason: 'beyond 7 daily' },
      { database: 'app', backupId: 'b2', reason: 'beyond 7 daily' },
    ]);
    assert.deepEqual(result.deleted, ['b1']);
    assert.deepEqual(result.skipped, [{ id: 'b2', why: 'a restore reads it' }]);
    assert.equal(result.kept, 1);
  });

  it('a dry run plans and deletes nothing', TEST_TIMEOUT, async () => {
    const { fake, outcome } = prune(true, []);
    const result = await outcome;
    assert.equal(fake.named('deleteBackupEverywhere').length, 0);
    assert.deepEqual(result.deleted, []);
    assert.equal(result.summary, 'keep 1, delete 2');
  });
});
