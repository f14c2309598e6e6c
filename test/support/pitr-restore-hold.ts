/**
 * Helpers for a point-in-time restore into another server: the hold the running restore keeps on
 * its base backups, as retention reads it.
 */
import assert from 'node:assert/strict';
import { gatherPitrFacts } from '../../lib/retention/pitr-facts.ts';
import { parseRetentionPolicy } from '../../lib/retention/policy.ts';
import type { Platform } from './platform.ts';

/** Whatever base backups a restore holds while `work` runs, polled from the catalog retention reads. */
export async function heldDuring<T>(
  platform: Platform,
  work: () => Promise<T>,
): Promise<{ result: T; held: Set<string> }> {
  const held = new Set<string>();
  let polling = true;
  const poll = (async () => {
    while (polling) {
      for (const id of await platform.runtime.catalog.baseBackupsInUse('shop', new Date())) held.add(id);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    return { result: await work(), held };
  } finally {
    polling = false;
    await poll;
  }
}

/** Retention's facts mark a held base backup in use, and no longer once the hold is released. */
export async function factsReadTheHold(platform: Platform, id: string): Promise<void> {
  const { catalog } = platform.runtime;
  const inUse = async () =>
    (await gatherPitrFacts(
      catalog,
      'shop',
      parseRetentionPolicy({ kind: 'time', keepDays: 7 }),
    ))!.facts.baseBackups.find((b) => b.id === id)!.inUse;
  assert.equal(await inUse(), false, 'nothing holds it once the restore ended');
  const hold = { workflowId: 'restore/shop/held', database: 'shop', baseBackupIds: [id] };
  await catalog.holdBaseBackups({ ...hold, expiresAt: new Date(Date.now() + 60_000) });
  assert.equal(await inUse(), true, 'a running restore holds it');
  await catalog.holdBaseBackups({ ...hold, expiresAt: new Date(Date.now() - 1000) });
  assert.equal(await inUse(), false, 'an expired hold (its worker died) no longer counts');
  await catalog.releaseBaseBackups(hold.workflowId);
}
