import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planPerStorage, type StorageCopies } from '../../lib/retention/per-storage.ts';
import { planRetention, reasons, type PlannedBackup } from '../../lib/retention/planner.ts';
import type { RetentionPolicyInput } from '../../lib/retention/policy.ts';

// Per-storage retention over worked examples: each storage's policy applies to the copies it holds.

const DAY = 86_400_000;
const now = new Date('2026-11-20T12:00:00Z');

/** Backup `b<i>` finished i days before now (b0 is the newest). */
const backups = (count: number, flags: (i: number) => Partial<PlannedBackup> = () => ({})): PlannedBackup[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `b${i}`,
    finishedAt: new Date(now.getTime() - (i + 1) * DAY),
    status: 'complete' as const,
    verified: false,
    inUse: false,
    ...flags(i),
  }));

const ids = (list: ReadonlyArray<{ id: string }>) => list.map((d) => d.id).sort();
const all = (list: PlannedBackup[]) => list.map((b) => b.id);

function plan(list: PlannedBackup[], storages: StorageCopies[], databasePolicy: RetentionPolicyInput | null) {
  const databasePlan = databasePolicy === null ? null : planRetention({ now, policy: databasePolicy, backups: list });
  return planPerStorage({ now, backups: list, storages, databasePlan });
}

describe('per-storage retention', () => {
  it('keeps 1 copy on one storage and 3 on the other; nothing goes whole while a copy is kept', () => {
    const list = backups(3);
    const result = plan(
      list,
      [
        { storage: 'near', policy: { kind: 'count', keepLast: 1 }, backupIds: all(list) },
        { storage: 'far', policy: { kind: 'count', keepLast: 3 }, backupIds: all(list) },
      ],
      null,
    );
    assert.deepEqual(result.delete, []);
    assert.deepEqual(ids(result.keep), ['b0', 'b1', 'b2']);
    assert.deepEqual(
      result.deleteCopies.map((c) => `${c.id}@${c.storage}`),
      ['b1@near', 'b2@near'],
    );
    const near = result.storages.find((s) => s.storage === 'near')!;
    assert.deepEqual(ids(near.keep), ['b0']);
    assert.match(result.keep.find((k) => k.id === 'b2')!.reasons.join(), /^far: /);
  });

  it('deletes a backup whole when every storage holding it lets it go, naming each reason', () => {
    const list = backups(4);
    const result = plan(
      list,
      [
        { storage: 'near', policy: { kind: 'count', keepLast: 1 }, backupIds: all(list) },
        { storage: 'far', policy: null, backupIds: all(list) },
      ],
      { kind: 'count', keepLast: 2 },
    );
    assert.deepEqual(ids(result.delete), ['b2', 'b3']);
    assert.match(result.delete[0]!.reason, /near: .*; far: /);
    assert.deepEqual(
      result.deleteCopies.map((c) => `${c.id}@${c.storage}`),
      ['b1@near'],
    );
    assert.equal(result.storages.find((s) => s.storage === 'far')!.policy, null);
  });
});

describe('per-storage retention: the safety rules and a database without a policy', () => {
  it('applies the safety rules per storage: the newest verified copy and one in use stay', () => {
    const list = backups(4, (i) => ({ verified: i === 2, inUse: i === 3 }));
    const result = plan(
      list,
      [{ storage: 'near', policy: { kind: 'count', keepLast: 1 }, backupIds: ['b1', 'b2', 'b3'] }],
      {
        kind: 'count',
        keepLast: 10,
      },
    );
    const near = result.storages[0]!;
    assert.deepEqual(ids(near.keep), ['b1', 'b2', 'b3']);
    assert.ok(near.keep.find((k) => k.id === 'b2')!.reasons.includes(reasons.newestVerified));
    assert.ok(near.keep.find((k) => k.id === 'b3')!.reasons.includes(reasons.inUse));
    assert.deepEqual(result.deleteCopies, []);
    // b0 is on no storage whole: the database's policy decides it.
    assert.deepEqual(ids(result.keep), ['b0', 'b1', 'b2', 'b3']);
  });

  it('keeps the last standing copy on a storage whose policy keeps nothing there', () => {
    const list = backups(3);
    const result = plan(
      list,
      [{ storage: 'near', policy: { kind: 'time', keepDays: 1 }, backupIds: ['b1', 'b2'] }],
      null,
    );
    const near = result.storages[0]!;
    assert.deepEqual(ids(near.keep), ['b1']);
    assert.ok(near.keep[0]!.reasons.includes(reasons.lastStanding));
    // Held nowhere else, b2 goes whole; b0 (no copy planned) is kept: the database has no policy.
    assert.deepEqual(ids(result.delete), ['b2']);
    assert.deepEqual(ids(result.keep), ['b0', 'b1']);
  });

  it('a storage following a database without a policy keeps every copy', () => {
    const list = backups(3);
    const result = plan(
      list,
      [
        { storage: 'near', policy: { kind: 'count', keepLast: 1 }, backupIds: all(list) },
        { storage: 'far', policy: null, backupIds: ['b2'] },
      ],
      null,
    );
    assert.deepEqual(
      result.delete.map((d) => d.id),
      ['b1'],
    );
    assert.deepEqual(
      result.deleteCopies.map((c) => `${c.id}@${c.storage}`),
      ['b2@near'],
    );
  });
});
