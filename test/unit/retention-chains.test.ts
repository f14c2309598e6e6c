import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { planRetention, type PlannedBaseBackup, type PlannedWalSegment } from '../../lib/retention/planner.ts';

const DAY = 86_400_000;
const now = Date.parse('2026-12-06T12:00:00Z');

const base = (
  id: string,
  daysAgo: number,
  startLsn: string,
  parentId: string | null = null,
  inUse = false,
): PlannedBaseBackup => ({ id, finishedAt: new Date(now - daysAgo * DAY), startLsn, timeline: 1, inUse, parentId });
const segment = (index: number): PlannedWalSegment => ({
  name: `00000001000000${index.toString(16).toUpperCase().padStart(2, '0')}00000000`,
  timeline: 1,
  startLsn: `${index.toString(16)}/0`,
  endLsn: `${(index + 1).toString(16)}/0`,
});
const plan = (baseBackups: PlannedBaseBackup[], windowDays = 7) =>
  planRetention({
    now: new Date(now),
    policy: { kind: 'count', keepLast: 1 },
    backups: [],
    pitr: { windowDays, baseBackups, walSegments: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(segment) },
  });

describe('retention over incremental base backup chains', () => {
  it('keeps the full and every increment a kept increment is combined with, and cuts WAL at the increment', () => {
    // f12 ← i11 ← i9 (the window anchor, 7 days) ← i5; f3 ← i1. Only f12 and i11 are older than the anchor.
    const bases = [
      base('f12', 12, '1/0'),
      base('i11', 11, '2/0', 'f12'),
      base('i9', 9, '4/0', 'i11'),
      base('i5', 5, '6/0', 'i9'),
      base('f3', 3, '8/0'),
      base('i1', 1, '9/0', 'f3'),
    ];
    const result = plan(bases);
    assert.deepEqual(result.deleteBaseBackups, [], "nothing the window's chains need is deleted");
    assert.deepEqual(result.keepBaseBackups.find((d) => d.id === 'f12')?.reasons, [
      'needed to restore incremental base backup i5',
      'needed to restore incremental base backup i9',
    ]);
    assert.deepEqual(result.keepBaseBackups.find((d) => d.id === 'i11')?.reasons, [
      'needed to restore incremental base backup i5',
      'needed to restore incremental base backup i9',
    ]);
    // Recovery from i9 replays WAL from i9's start; its ancestors only lend pages.
    assert.deepEqual(result.deleteWalBefore, { timeline: 1, lsn: '4/0' });
  });

  it('deletes a whole chain once no kept backup needs it, and never an ancestor alone', () => {
    const bases = [
      base('f20', 20, '1/0'),
      base('i19', 19, '2/0', 'f20'),
      base('f10', 10, '3/0'),
      base('i8', 8, '4/0', 'f10'),
      base('f2', 2, '7/0'),
    ];
    const result = plan(bases);
    assert.deepEqual(
      result.deleteBaseBackups.map((d) => d.id),
      ['i19', 'f20'],
    );
    assert.deepEqual(
      result.keepBaseBackups.map((d) => d.id),
      ['f2', 'i8', 'f10'],
    );
    // i8 is the window's anchor; f10, older, stays only as its full.
    assert.deepEqual(result.keepBaseBackups.find((d) => d.id === 'f10')?.reasons, [
      'needed to restore incremental base backup i8',
    ]);
    assert.deepEqual(result.deleteWalBefore, { timeline: 1, lsn: '4/0' });
  });

  it('keeps the chain of an increment that is in use even outside the window', () => {
    const bases = [base('f30', 30, '1/0'), base('i29', 29, '2/0', 'f30', true), base('f2', 2, '7/0')];
    const result = plan(bases);
    assert.deepEqual(result.deleteBaseBackups, []);
    assert.deepEqual(result.keepBaseBackups.find((d) => d.id === 'f30')?.reasons, [
      'needed to restore incremental base backup i29',
    ]);
  });

  it('stops at a parent already gone and at a loop of parents', () => {
    const gone = plan([base('i5', 5, '6/0', 'deleted-full'), base('f9', 9, '3/0')]);
    assert.deepEqual(
      gone.keepBaseBackups.map((d) => d.id),
      ['i5', 'f9'],
    );
    const loop = plan([base('a', 9, '3/0', 'b'), base('b', 8, '4/0', 'a'), base('f', 1, '9/0')], 3);
    assert.deepEqual(loop.keepBaseBackups.map((d) => d.id).sort(), ['a', 'b', 'f']);
  });

  it('never deletes an ancestor of a kept base backup, whatever the chains and the window', () => {
    const chains = fc.array(fc.record({ daysAgo: fc.integer({ min: 0, max: 60 }), incremental: fc.boolean() }), {
      minLength: 1,
      maxLength: 25,
    });
    fc.assert(
      fc.property(
        chains,
        fc.integer({ min: 0, max: 30 }),
        fc.array(fc.boolean(), { maxLength: 25 }),
        (items, windowDays, inUse) => {
          // Oldest first: an increment's parent is the base backup taken just before it.
          const sorted = [...items].sort((a, b) => b.daysAgo - a.daysAgo);
          const bases = sorted.map((item, index) =>
            base(
              `b${index}`,
              item.daysAgo + index / 1000,
              `${index + 1}/0`,
              item.incremental && index > 0 ? `b${index - 1}` : null,
              inUse[index] ?? false,
            ),
          );
          const result = plan(bases, windowDays);
          const kept = new Set(result.keepBaseBackups.map((d) => d.id));
          for (const b of bases) {
            if (kept.has(b.id) && b.parentId)
              assert.ok(kept.has(b.parentId), `${b.parentId}, the parent of kept ${b.id}, was deleted`);
          }
          assert.equal(kept.size + result.deleteBaseBackups.length, bases.length);
        },
      ),
    );
  });
});
