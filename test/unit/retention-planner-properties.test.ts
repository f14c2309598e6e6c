import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  isWalSegmentBefore,
  planRetention,
  type PlannedBackup,
  type PlannedBaseBackup,
  type PlannedWalSegment,
  type RetentionPlan,
} from '../../lib/retention/planner.ts';
import { gfsTiers, type GfsTier, type RetentionPolicyInput } from '../../lib/retention/policy.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1);
const SPAN = 3 * 365 * DAY;
const zones = [
  'UTC',
  'Europe/Paris',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/St_Johns',
];

// ---- an independent reference: offsets instead of formatted fields, Mondays instead of week numbers

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

function utcOffsetMs(at: number, timeZone: string): number {
  let formatter = offsetFormatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormatters.set(timeZone, formatter);
  }
  const name = formatter.formatToParts(at).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
  const match = /^GMT(?:([+-])(\d\d):(\d\d))?$/.exec(name);
  assert.ok(match, `unexpected offset ${name}`);
  if (match[1] === undefined) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return (match[1] === '-' ? -1 : 1) * minutes * 60_000;
}

function referenceBucket(tier: GfsTier, at: Date, timeZone: string): string {
  const wall = new Date(at.getTime() + utcOffsetMs(at.getTime(), timeZone));
  const iso = wall.toISOString();
  switch (tier) {
    case 'hourly':
      return iso.slice(0, 13);
    case 'daily':
      return iso.slice(0, 10);
    case 'weekly': {
      const midnight = Date.UTC(wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate());
      return new Date(midnight - ((wall.getUTCDay() + 6) % 7) * DAY).toISOString().slice(0, 10);
    }
    case 'monthly':
      return iso.slice(0, 7);
    case 'yearly':
      return iso.slice(0, 4);
  }
}

const isNewer = (a: PlannedBackup, b: PlannedBackup): boolean =>
  a.finishedAt.getTime() > b.finishedAt.getTime() || (a.finishedAt.getTime() === b.finishedAt.getTime() && a.id > b.id);

const newestOf = (backups: PlannedBackup[]): PlannedBackup | undefined =>
  backups.reduce<PlannedBackup | undefined>(
    (best, b) => (best === undefined || isNewer(b, best) ? b : best),
    undefined,
  );

/** Per tier, the ids the tier keeps: group into buckets, take each bucket's newest, keep the N newest buckets. */
function referenceTierKeeps(
  policy: Extract<RetentionPolicyInput, { kind: 'gfs' }>,
  backups: PlannedBackup[],
): Map<GfsTier, Set<string>> {
  const result = new Map<GfsTier, Set<string>>();
  for (const tier of gfsTiers) {
    const buckets = new Map<string, PlannedBackup[]>();
    for (const b of backups) {
      const key = referenceBucket(tier, b.finishedAt, policy.timezone ?? 'UTC');
      buckets.set(key, [...(buckets.get(key) ?? []), b]);
    }
    const newest = [...buckets.values()].map((members) => newestOf(members)!);
    newest.sort((a, b) => (isNewer(a, b) ? -1 : 1));
    result.set(tier, new Set(newest.slice(0, policy[tier] ?? 0).map((b) => b.id)));
  }
  return result;
}

function referencePolicyKeeps(policy: RetentionPolicyInput, backups: PlannedBackup[], now: number): Set<string> {
  switch (policy.kind) {
    case 'time':
      return new Set(backups.filter((b) => b.finishedAt.getTime() >= now - policy.keepDays * DAY).map((b) => b.id));
    case 'count':
      return new Set(
        [...backups]
          .sort((a, b) => (isNewer(a, b) ? -1 : 1))
          .slice(0, policy.keepLast)
          .map((b) => b.id),
      );
    case 'gfs':
      return new Set([...referenceTierKeeps(policy, backups).values()].flatMap((ids) => [...ids]));
  }
}

const lsnValue = (lsn: string): bigint => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
};
const lsnText = (value: number): string =>
  `${Math.floor(value / 2 ** 32)
    .toString(16)
    .toUpperCase()}/${(value % 2 ** 32).toString(16).toUpperCase()}`;

// ---- generators

const policyArb: fc.Arbitrary<RetentionPolicyInput> = fc.oneof(
  fc.record({
    kind: fc.constant('time' as const),
    keepDays: fc.oneof(fc.integer({ min: 1, max: 14 }), fc.integer({ min: 1, max: 400 })),
  }),
  fc.record({ kind: fc.constant('count' as const), keepLast: fc.integer({ min: 1, max: 250 }) }),
  fc
    .record(
      {
        kind: fc.constant('gfs' as const),
        hourly: fc.option(fc.integer({ min: 0, max: 48 }), { nil: undefined }),
        daily: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
        weekly: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
        monthly: fc.option(fc.integer({ min: 0, max: 24 }), { nil: undefined }),
        yearly: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
        timezone: fc.option(fc.constantFrom(...zones), { nil: undefined }),
      },
      { requiredKeys: ['kind'] },
    )
    .map((policy) => (gfsTiers.some((tier) => (policy[tier] ?? 0) > 0) ? policy : { ...policy, daily: 1 })),
);

/** A finish time: anywhere in three years, or shortly before (or after) now, with exact ties and edges. */
const timeSpecArb = fc.oneof(
  fc.record({ at: fc.integer({ min: START, max: START + SPAN }) }),
  fc.record({ ago: fc.integer({ min: -2 * HOUR, max: 90 * DAY }) }),
  fc.record({ ago: fc.constantFrom(0, HOUR - 1, HOUR, HOUR + 1, DAY, 7 * DAY, 30 * DAY) }),
);
const resolve = (spec: { at: number } | { ago: number }, now: number): number =>
  'at' in spec ? spec.at : now - spec.ago;

const rareFlag = fc.integer({ min: 0, max: 9 }).map((n) => n === 0);

const backupSpecArb = fc.record({ time: timeSpecArb, verified: rareFlag, inUse: rareFlag, partial: rareFlag });

const scenarioArb = fc
  .record({
    now: fc.integer({ min: START, max: START + SPAN + 30 * DAY }),
    policy: policyArb,
    // Few backups often leave a policy with nothing to keep; rare verifications leave the newest verified one old.
    specs: fc.oneof(
      fc.array(backupSpecArb, { maxLength: 200, size: 'max' }),
      fc.array(backupSpecArb, { maxLength: 6 }),
    ),
  })
  .map(({ now, policy, specs }) => ({
    now: new Date(now),
    policy,
    backups: specs.map((spec, index): PlannedBackup => ({
      id: `b${String(index).padStart(3, '0')}`,
      finishedAt: new Date(resolve(spec.time, now)),
      status: spec.partial ? 'partial' : 'complete',
      verified: spec.verified,
      inUse: spec.inUse,
    })),
  }));

const pitrArb = fc
  .record({
    now: fc.integer({ min: START + 200 * DAY, max: START + SPAN }),
    windowDays: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constant(0.5)),
    bases: fc.array(
      fc.record({
        ago: fc.integer({ min: -DAY, max: 120 * DAY }),
        lsnStep: fc.integer({ min: 0, max: 2 ** 28 }),
        newTimeline: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
        inUse: rareFlag,
      }),
      { maxLength: 30, size: 'max' },
    ),
    segments: fc.uniqueArray(
      fc.record({ index: fc.integer({ min: 0, max: 600 }), timeline: fc.integer({ min: 1, max: 4 }) }),
      {
        maxLength: 40,
        size: 'max',
        selector: (s) => `${s.timeline}:${s.index}`,
      },
    ),
    probes: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
  })
  .map(({ now, windowDays, bases, segments, probes }) => {
    // Realistic history: later base backups start later in the WAL, on the same or a newer timeline.
    const times = bases.map((b) => now - b.ago).sort((a, b) => a - b);
    let lsn = 0x1000000;
    let timeline = 1;
    const baseBackups = bases.map((b, index): PlannedBaseBackup => {
      lsn += b.lsnStep;
      if (b.newTimeline) timeline += 1;
      return {
        id: `base${String(index).padStart(2, '0')}`,
        finishedAt: new Date(times[index]!),
        startLsn: lsnText(lsn),
        timeline,
        inUse: b.inUse,
      };
    });
    const segmentSize = 0x1000000;
    const walSegments = segments.map((s): PlannedWalSegment => ({
      name: [s.timeline, Math.floor(s.index / 256), s.index % 256]
        .map((n) => n.toString(16).toUpperCase().padStart(8, '0'))
        .join(''),
      timeline: s.timeline,
      startLsn: lsnText(s.index * segmentSize),
      endLsn: lsnText((s.index + 1) * segmentSize),
    }));
    return { now: new Date(now), windowDays, baseBackups, walSegments, probes };
  });

// ---- shared checks

function assertPartition(
  decisions: { keep: { id: string; reasons: string[] }[]; delete: { id: string; reason: string }[] },
  items: { id: string; finishedAt: Date }[],
): void {
  const seen = [...decisions.keep.map((d) => d.id), ...decisions.delete.map((d) => d.id)];
  assert.equal(seen.length, items.length, 'every id exactly once');
  assert.deepEqual(new Set(seen), new Set(items.map((b) => b.id)));
  for (const d of decisions.keep)
    assert.ok(d.reasons.length > 0 && d.reasons.every((r) => r.length > 0), `${d.id} is kept without a reason`);
  for (const d of decisions.delete) assert.ok(d.reason.length > 0, `${d.id} is deleted without a reason`);
  const byId = new Map(items.map((b) => [b.id, b.finishedAt.getTime()]));
  for (const list of [decisions.keep, decisions.delete]) {
    for (let i = 1; i < list.length; i++) {
      const [a, b] = [list[i - 1]!, list[i]!];
      const order = byId.get(a.id)! - byId.get(b.id)!;
      assert.ok(order > 0 || (order === 0 && a.id > b.id), `${a.id} must come before ${b.id}: newest first`);
    }
  }
}

const keptIds = (plan: RetentionPlan): Set<string> => new Set(plan.keep.map((d) => d.id));
const tierOf = (reason: string): GfsTier | undefined => gfsTiers.find((tier) => reason.startsWith(`${tier} tier: `));

// ---- properties

describe('retention planner properties', () => {
  it('keeps or deletes every backup exactly once, newest first, never against a tier or a safety rule, and is idempotent', () => {
    fc.assert(
      fc.property(scenarioArb, ({ now, policy, backups }) => {
        const plan = planRetention({ now, policy, backups });
        assertPartition(plan, backups);
        const kept = keptIds(plan);

        // (b) what the policy keeps, computed independently, is never deleted.
        const policyKeeps = referencePolicyKeeps(policy, backups, now.getTime());
        for (const id of policyKeeps) assert.ok(kept.has(id), `${id} is kept by the policy but deleted`);

        // (c) the tier reasons name exactly the reference's picks: one per bucket, at most N per tier.
        if (policy.kind === 'gfs') {
          const reference = referenceTierKeeps(policy, backups);
          const byId = new Map(backups.map((b) => [b.id, b]));
          for (const tier of gfsTiers) {
            const picked = plan.keep.filter((d) => d.reasons.some((r) => tierOf(r) === tier)).map((d) => d.id);
            const buckets: string[] = picked.map((id) =>
              referenceBucket(tier, byId.get(id)!.finishedAt, policy.timezone ?? 'UTC'),
            );
            assert.equal(new Set(buckets).size, buckets.length, `${tier}: two backups of one bucket`);
            assert.ok(picked.length <= (policy[tier] ?? 0), `${tier}: more buckets than the tier allows`);
            assert.deepEqual(new Set(picked), reference.get(tier), `${tier}: differs from the reference`);
            if (tier !== 'weekly') {
              // The reason names the local bucket (the reference names weeks by their Monday instead).
              const shown = (key: string): string => (tier === 'hourly' ? `${key.replace('T', ' ')}:00` : key);
              for (const [index, id] of picked.entries()) {
                assert.ok(
                  plan.keep
                    .find((d) => d.id === id)!
                    .reasons.includes(`${tier} tier: newest of ${shown(buckets[index]!)}`),
                  `${id}: wrong ${tier} bucket`,
                );
              }
            }
          }
        }

        // (e) the safety rules.
        for (const b of backups) {
          if (now.getTime() - b.finishedAt.getTime() < HOUR)
            assert.ok(kept.has(b.id), `${b.id} is younger than an hour but deleted`);
          if (b.inUse) assert.ok(kept.has(b.id), `${b.id} is in use but deleted`);
        }
        const newestVerified = newestOf(backups.filter((b) => b.verified));
        if (newestVerified !== undefined)
          assert.ok(kept.has(newestVerified.id), 'the newest verified backup is deleted');
        if (backups.length > 0) {
          assert.ok(kept.size > 0, 'every backup is deleted');
          if (policyKeeps.size === 0)
            assert.ok(kept.has(newestOf(backups)!.id), 'the newest backup is deleted although the policy keeps none');
        }

        // (d) planning again over what was kept deletes nothing more.
        const again = planRetention({ now, policy, backups: backups.filter((b) => kept.has(b.id)) });
        assert.deepEqual(again.delete, []);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every base backup the PITR window needs and never cuts WAL that a kept one replays', () => {
    fc.assert(
      fc.property(pitrArb, ({ now, windowDays, baseBackups, walSegments, probes }) => {
        const plan = planRetention({
          now,
          policy: { kind: 'count', keepLast: 1 },
          backups: [],
          pitr: { windowDays, baseBackups, walSegments },
        });
        const decisions = { keep: plan.keepBaseBackups, delete: plan.deleteBaseBackups };
        assertPartition(decisions, baseBackups);
        const kept = baseBackups.filter((b) => plan.keepBaseBackups.some((d) => d.id === b.id));

        const windowStart = now.getTime() - windowDays * DAY;
        const beforeWindow = baseBackups.filter((b) => b.finishedAt.getTime() <= windowStart);
        if (beforeWindow.length === 0) {
          assert.equal(kept.length, baseBackups.length, 'no base backup precedes the window: all must be kept');
        } else {
          const instants = [
            windowStart,
            now.getTime(),
            ...probes.map((p) => windowStart + p * (now.getTime() - windowStart)),
          ];
          for (const t of instants) {
            assert.ok(
              kept.some((b) => b.finishedAt.getTime() <= t),
              `no kept base backup to recover to ${new Date(t).toISOString()}`,
            );
          }
          for (const b of baseBackups) {
            if (b.finishedAt.getTime() > windowStart)
              assert.ok(kept.includes(b), `${b.id} lies in the window but is deleted`);
          }
        }
        for (const b of baseBackups) if (b.inUse) assert.ok(kept.includes(b), `${b.id} is in use but deleted`);

        const cut = plan.deleteWalBefore;
        if (cut === null) {
          // Null means nothing could go: no kept base backup, or no segment before the earliest one.
          const earliest = kept.map((b) => lsnValue(b.startLsn)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0];
          if (earliest !== undefined) {
            const holder = kept.find((b) => lsnValue(b.startLsn) === earliest)!;
            assert.ok(
              !walSegments.some((s) => s.timeline <= holder.timeline && lsnValue(s.endLsn) <= earliest),
              'WAL could have been cut',
            );
          }
          return;
        }
        assert.ok(
          kept.some((b) => b.startLsn === cut.lsn && b.timeline === cut.timeline),
          'the cut is the start of a kept base backup',
        );
        const oldestKept = kept.reduce((a, b) => (b.finishedAt < a.finishedAt ? b : a));
        assert.ok(lsnValue(cut.lsn) <= lsnValue(oldestKept.startLsn), 'the cut lies after the oldest kept base backup');
        for (const b of kept) assert.ok(lsnValue(cut.lsn) <= lsnValue(b.startLsn), `the cut lies after kept ${b.id}`);
        const removable = walSegments.filter((s) => isWalSegmentBefore(s, cut));
        assert.ok(removable.length > 0, 'a cut is reported only when some WAL can go');
        for (const s of removable) {
          for (const b of kept) assert.ok(lsnValue(s.endLsn) <= lsnValue(b.startLsn), `${s.name} is needed by ${b.id}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
