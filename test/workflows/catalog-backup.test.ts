import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  catalogBackupWorkflow,
  configChangedSignal,
  type CatalogBackupOutcome,
} from '../../temporal/contracts/catalog-backup.ts';
import { held, recording } from './fakes.ts';
import { test, timeSkippingPlatform } from './support.ts';

/** The catalog's own backup: at once on request, and after a burst of changes once they have been quiet. */
const platform = timeSkippingPlatform();

const taken = (backupId: string): CatalogBackupOutcome => ({
  backupId,
  schemaVersion: '011_incremental_base_backups',
  copies: [{ storage: 'bucket', status: 'complete', sizeBytes: 100, pruned: [] }],
});

describe('catalogBackup with time skipping', () => {
  test('a run on request backs up at once, with the retention asked for', async () => {
    const fake = recording({ backUpCatalog: async (input) => taken(input.backupId) });
    const outcome = await platform.execute(fake, catalogBackupWorkflow, { trigger: 'manual', keep: 3 });
    const calls = fake.named('backUpCatalog') as Array<{ backupId: string; keep: number }>;
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.keep, 3);
    assert.match(calls[0]!.backupId, /^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    assert.equal(outcome.backupId, calls[0]!.backupId);
  });

  test('a burst of changes gives one backup, once the configuration has been quiet', async () => {
    const fake = recording({ backUpCatalog: async (input) => taken(input.backupId) });
    const startedAt = await platform.env.currentTimeMs();
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(catalogBackupWorkflow, { trigger: 'change', quietSeconds: 60 });
      for (let i = 0; i < 3; i++) await handle.signal(configChangedSignal);
      await handle.result();
    });
    assert.equal(fake.named('backUpCatalog').length, 1, 'one backup for three changes');
    assert.ok((await platform.env.currentTimeMs()) - startedAt >= 60_000, 'not before a minute of quiet');
  });

  test('a change while the backup runs is not lost: one more backup follows, after quiet again', async () => {
    const first = held(taken('20261207T000000Z-000001'));
    let calls = 0;
    const fake = recording({
      backUpCatalog: async (input) => (calls++ === 0 ? first.fake(input) : taken(input.backupId)),
    });
    await platform.run(fake, async (jobs) => {
      const handle = await jobs.start(catalogBackupWorkflow, { trigger: 'change', quietSeconds: 60 });
      // The server skips time only while someone waits on it: past the first minute of quiet.
      await platform.env.sleep('61 seconds');
      await first.started;
      await handle.signal(configChangedSignal);
      first.release();
      await handle.result();
    });
    assert.equal(fake.named('backUpCatalog').length, 2);
  });
});
