import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  planRetention,
  type PlannedBaseBackup,
  type PlannedHistory,
  type PlannedWalSegment,
  type RetentionPlan,
} from '../../lib/retention/planner.ts';
import type { RetentionPolicyInput } from '../../lib/retention/policy.ts';
import { formatLsn, parseLsn, segmentName } from '../../lib/wal/lsn.ts';

/**
 * Properties of the WAL half of a plan over generated archives: several timelines (each branched
 * from the one before), segments lost here and there (never recorded, or recorded but gone from
 * storage), base backups along the way. A reference written independently of the planner says
 * which segment each kept base backup reads to reach the newest archived position, the way
 * recovery picks a segment: the newest timeline of the target's lineage that had begun by then.
 */

const SIZE = 0x1000000;
const BIG = BigInt(SIZE);
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 6, 12);

interface Archive {
  segments: PlannedWalSegment[];
  histories: PlannedHistory[];
  bases: PlannedBaseBackup[];
  /** First segment number of each timeline (index 0: timeline 1). */
  begins: bigint[];
  policy: RetentionPolicyInput;
}

const archiveArb = fc
  .record({
    length: fc.integer({ min: 4, max: 90 }),
    switches: fc.uniqueArray(fc.integer({ min: 1, max: 89 }), { maxLength: 3 }),
    switchOffset: fc.constantFrom(0, 0x100, SIZE / 2),
    lost: fc.array(fc.record({ at: fc.nat(), timeline: fc.nat(3), gone: fc.boolean() }), { maxLength: 4 }),
    bases: fc.uniqueArray(fc.integer({ min: 0, max: 89 }), { maxLength: 8 }),
    policy: fc.oneof(
      fc.record({ kind: fc.constant('count' as const), keepLast: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('time' as const), keepDays: fc.integer({ min: 1, max: 6 }) }),
    ),
  })
  .map(({ length, switches, switchOffset, lost, bases, policy }): Archive => {
    const ends = switches.filter((s) => s < length - 1).sort((a, b) => a - b);
    const switchLsn = ends.map((s) => BigInt(s) * BIG + BigInt(switchOffset));
    const begins = [0n, ...switchLsn.map((lsn) => lsn / BIG)];
    const segments: PlannedWalSegment[] = [];
    begins.forEach((begin, index) => {
      const timeline = index + 1;
      // A parent keeps its copy of the segment holding the switch, as PostgreSQL archives it.
      const last = index < switchLsn.length ? switchLsn[index]! / BIG : BigInt(length - 1);
      for (let segno = begin; segno <= last; segno++) {
        const drop = lost.find((l) => l.timeline === index && BigInt(l.at % length) === segno);
        const newest = index === switchLsn.length && segno === last;
        if (drop !== undefined && !drop.gone && !newest) continue;
        segments.push({
          name: segmentName(timeline, segno, SIZE),
          timeline,
          startLsn: formatLsn(segno * BIG),
          endLsn: formatLsn((segno + 1n) * BIG),
          storedBytes: 1000 + Number(segno),
          present: drop === undefined || newest,
        });
      }
    });
    const histories = switchLsn.map((_, index) => ({
      timeline: index + 2,
      content: switchLsn
        .slice(0, index + 1)
        .map((lsn, i) => `${i + 1}\t${formatLsn(lsn)}\tno recovery target specified`)
        .join('\n'),
    }));
    const positions = bases.filter((p) => p < length).sort((a, b) => a - b);
    const baseBackups = positions.map((position, index): PlannedBaseBackup => {
      const start = BigInt(position) * BIG + 0x28n;
      const timeline = 1 + switchLsn.filter((lsn) => lsn <= start).length;
      const finishedAt = new Date(NOW - (positions.length - index) * DAY + 1000);
      return { id: `base${index}`, finishedAt, startLsn: formatLsn(start), timeline, inUse: false };
    });
    return { segments, histories, bases: baseBackups, begins, policy };
  });

/** The segments (`timeline:segno`) a base backup reads to reach the newest byte of the target timeline. */
function reads(base: PlannedBaseBackup, archive: Archive): string[] {
  const target = Math.max(...archive.segments.map((s) => s.timeline));
  const newest = archive.segments
    .filter((s) => s.timeline === target)
    .reduce((max, s) => (parseLsn(s.endLsn) > max ? parseLsn(s.endLsn) : max), 0n);
  const out: string[] = [];
  for (let segno = parseLsn(base.startLsn) / BIG; segno <= (newest - 1n) / BIG; segno++) {
    let timeline = 1;
    for (let t = 1; t <= target; t++) if (archive.begins[t - 1]! <= segno) timeline = t;
    out.push(`${timeline}:${segno}`);
  }
  return out;
}

const slot = (s: PlannedWalSegment) => `${s.timeline}:${parseLsn(s.startLsn) / BIG}`;

function deletedBy(plan: RetentionPlan, segments: PlannedWalSegment[]): PlannedWalSegment[] {
  const cuts = new Map((plan.walCuts ?? []).map((c) => [c.timeline, parseLsn(c.cutLsn)]));
  return segments.filter((s) => parseLsn(s.endLsn) <= (cuts.get(s.timeline) ?? -1n));
}

describe('retention planner properties: the PITR archive', () => {
  it('never deletes WAL or a history file a kept base backup needs, refuses exactly when a kept window has a hole', () => {
    fc.assert(
      fc.property(archiveArb, (archive) => {
        const { segments, histories, bases, policy } = archive;
        const plan = planRetention({
          now: new Date(NOW),
          policy,
          backups: [],
          pitr: {
            windowDays: 0,
            baseBackups: bases,
            walSegments: segments,
            histories,
            segmentSize: SIZE,
            byPolicy: true,
          },
        });
        const kept = bases.filter((b) => plan.keepBaseBackups.some((d) => d.id === b.id));
        if (bases.length > 0) assert.ok(kept.includes(bases.at(-1)!), 'the newest base backup is kept');
        const usable = new Set(segments.filter((s) => s.present !== false).map(slot));
        const needed = new Set(kept.flatMap((b) => reads(b, archive)));
        const missing = [...needed].filter((n) => !usable.has(n));

        if (plan.walRefusal) {
          assert.ok(missing.length > 0, `refused without a hole: ${plan.walRefusal}`);
          const [timeline, segno] = missing[0]!.split(':');
          const named = /WAL segment ([0-9A-F]{24})/.exec(plan.walRefusal)![1]!;
          assert.ok(
            missing.some((m) => {
              const [t, n] = m.split(':');
              return segmentName(Number(t), BigInt(n!), SIZE) === named;
            }),
            `the refusal names ${named}, not a missing segment (e.g. ${timeline}:${segno})`,
          );
          assert.deepEqual([plan.walCuts, plan.deleteHistories, plan.deleteWalBefore], [[], [], null]);
          return;
        }
        assert.deepEqual(missing, [], 'a hole inside a kept window, yet the plan deletes');

        const deleted = deletedBy(plan, segments);
        for (const s of deleted)
          assert.ok(!needed.has(slot(s)), `${s.name} is deleted but a kept base backup reads it`);
        const oldest = kept.reduce((min, b) => (parseLsn(b.startLsn) < min ? parseLsn(b.startLsn) : min), 1n << 62n);
        for (const s of segments)
          if (kept.length > 0 && parseLsn(s.endLsn) <= oldest)
            assert.ok(deleted.includes(s), `${s.name} ends before every kept base backup but stays`);
        for (const cut of plan.walCuts ?? []) {
          const mine = deleted.filter((s) => s.timeline === cut.timeline);
          assert.equal(cut.segments, mine.length);
          assert.equal(
            cut.bytes,
            mine.reduce((sum, s) => sum + (s.storedBytes ?? 0), 0),
          );
          assert.deepEqual([cut.first, cut.last], [mine[0]!.name, mine.at(-1)!.name]);
        }

        // A history file stays while a kept base backup or a kept segment lies on its timeline or a descendant.
        const left = segments.filter((s) => !deleted.includes(s));
        for (const timeline of plan.deleteHistories ?? []) {
          const descends = (t: number) => t >= timeline;
          assert.ok(!kept.some((b) => descends(b.timeline)), `history ${timeline} is deleted under a kept base backup`);
          assert.ok(!left.some((s) => descends(s.timeline)), `history ${timeline} is deleted under kept WAL`);
        }
      }),
      { numRuns: 400 },
    );
  });
});
