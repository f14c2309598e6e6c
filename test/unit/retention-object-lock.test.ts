import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planPerStorage } from '../../lib/retention/per-storage.ts';
import { planRetention, type PlannedBackup } from '../../lib/retention/planner.ts';

// Backups a storage locks (S3 Object Lock) are kept until their date, whatever the policy says.

const DAY = 86_400_000;
const now = new Date('2026-11-20T12:00:00Z');

/** Backup `b<i>` finished i + 1 days before now (b0 is the newest). */
const backups = (count: number, lockedUntil: (i: number) => Date | undefined = () => undefined): PlannedBackup[] =>
  Array.from({ length: count }, (_, i) => {
    const until = lockedUntil(i);
    return {
      id: `b${i}`,
      finishedAt: new Date(now.getTime() - (i + 1) * DAY),
      status: 'complete' as const,
      verified: false,
      inUse: false,
      ...(until ? { lockedUntil: until } : {}),
    };
  });

describe('retention of locked backups', () => {
  it('keeps a backup locked past now with the date, and deletes one whose date has passed', () => {
    const list = backups(3, (i) => new Date(now.getTime() + (i === 1 ? DAY : -1000)));
    const plan = planRetention({ now, policy: { kind: 'count', keepLast: 1 }, backups: list });
    assert.deepEqual(
      plan.keep.map((k) => k.id),
      ['b0', 'b1'],
    );
    assert.deepEqual(plan.keep[1]!.reasons, ['locked until 2026-11-21T12:00:00Z']);
    assert.deepEqual(
      plan.delete.map((d) => d.id),
      ['b2'],
    );
  });

  it("counts a storage's lock only for the copies on that storage", () => {
    // The database-wide date (another storage's lock) must not keep b2's copy on "near".
    const list = backups(3, (i) => (i === 2 ? new Date(now.getTime() + 5 * DAY) : undefined));
    const result = planPerStorage({
      now,
      backups: list,
      databasePlan: null,
      storages: [
        { storage: 'vault', policy: { kind: 'count', keepLast: 1 }, backupIds: ['b0', 'b1', 'b2'], lockDays: 3 },
        { storage: 'near', policy: { kind: 'count', keepLast: 1 }, backupIds: ['b0', 'b1', 'b2'] },
      ],
    });
    const vault = result.storages.find((s) => s.storage === 'vault')!;
    const near = result.storages.find((s) => s.storage === 'near')!;
    // On vault, b1 (2 days old) is locked one more day; b2's 3-day lock ends exactly now.
    assert.deepEqual(
      vault.keep.map((k) => k.id),
      ['b0', 'b1'],
    );
    assert.deepEqual(vault.keep[1]!.reasons, ['locked until 2026-11-21T12:00:00Z']);
    assert.deepEqual(
      near.delete.map((d) => d.id),
      ['b1', 'b2'],
    );
    assert.deepEqual(
      result.deleteCopies.map((c) => `${c.id}@${c.storage}`),
      ['b1@near'],
    );
    assert.deepEqual(
      result.delete.map((d) => d.id),
      ['b2'],
    );
  });
});
