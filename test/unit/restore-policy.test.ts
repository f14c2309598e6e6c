import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseBackupToRestore, type BackupLookup, type RestoreCandidate } from '../../lib/backup/restore-policy.ts';
import { HindsightError } from '../../lib/errors.ts';

/** The catalog's answers, from a list: newest first, as the catalog orders them. */
function lookupOf(backups: RestoreCandidate[]): BackupLookup {
  return {
    async getBackup(id) {
      const found = backups.find((b) => b.id === id);
      if (!found)
        throw new HindsightError('not_found', `backup "${id}" does not exist (hindsight backups <db> lists them)`);
      return found;
    },
    async latestCompleteBackup(database) {
      const found = backups.find(
        (b) => b.databaseName === database && (b.status === 'complete' || b.status === 'partial'),
      );
      if (!found)
        throw new HindsightError(
          'not_found',
          `database "${database}" has no complete backup yet (run hindsight backup ${database})`,
        );
      return found;
    },
  };
}

const backups: RestoreCandidate[] = [
  { id: 'b-5', databaseName: 'shop', status: 'running' },
  { id: 'b-4', databaseName: 'shop', status: 'failed' },
  { id: 'b-3', databaseName: 'shop', status: 'partial' },
  { id: 'b-2', databaseName: 'ledger', status: 'complete' },
  { id: 'b-1', databaseName: 'shop', status: 'complete' },
  { id: 'b-0', databaseName: 'shop', status: 'cancelled' },
];

const refusal = (kind: string, message: string) => (error: unknown) => {
  assert.ok(error instanceof HindsightError);
  assert.deepEqual([error.kind, error.message], [kind, message]);
  return true;
};

describe('which backup a restore takes', () => {
  const lookup = lookupOf(backups);

  it('takes the newest complete (or partial) backup of the database when none is named', async () => {
    assert.equal(await chooseBackupToRestore(lookup, 'shop'), 'b-3');
    assert.equal(await chooseBackupToRestore(lookup, 'ledger'), 'b-2');
  });

  it('takes the named backup when it is complete or partial', async () => {
    assert.equal(await chooseBackupToRestore(lookup, 'shop', 'b-1'), 'b-1');
    assert.equal(await chooseBackupToRestore(lookup, 'shop', 'b-3'), 'b-3');
  });

  it('refuses a backup of another database, naming both', async () => {
    await assert.rejects(
      chooseBackupToRestore(lookup, 'shop', 'b-2'),
      refusal('bad_input', 'backup b-2 belongs to database "ledger", not "shop"'),
    );
  });

  it('refuses running, failed and cancelled backups, naming the status', async () => {
    for (const [id, status] of [
      ['b-5', 'running'],
      ['b-4', 'failed'],
      ['b-0', 'cancelled'],
    ]) {
      await assert.rejects(
        chooseBackupToRestore(lookup, 'shop', id),
        refusal('bad_input', `backup ${id} is ${status}: only complete (or partial) backups can be restored`),
      );
    }
  });

  it("passes on the lookup's refusals: an unknown backup, a database without a complete one", async () => {
    await assert.rejects(
      chooseBackupToRestore(lookup, 'shop', 'b-9'),
      refusal('not_found', 'backup "b-9" does not exist (hindsight backups <db> lists them)'),
    );
    await assert.rejects(
      chooseBackupToRestore(lookupOf([]), 'shop'),
      refusal('not_found', 'database "shop" has no complete backup yet (run hindsight backup shop)'),
    );
  });
});
