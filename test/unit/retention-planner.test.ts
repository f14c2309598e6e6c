import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isHindsightError } from '../../lib/errors.ts';
import {
  compareLsn, formatLsn, isoWeek, parseLsn, isWalSegmentBefore, planRetention, reasons,
  type PlannedBackup, type PlannedBaseBackup, type PlannedWalSegment, type RetentionPlan,
} from '../../lib/retention/planner.ts';
import { gfsTiers, type GfsTier, type RetentionPolicyInput } from '../../lib/retention/policy.ts';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1);
const SPAN = 3 * 365 * DAY;
const zones = ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/St_Johns'];

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
    case 'hourly': return iso.slice(0, 13);
    case 'daily': return iso.slice(0, 10);
    case 'weekly': {
      const midnight = Date.UTC(wall.getUTCFullYear(), wall.getUTCMonth(), wall.getUTCDate());
      return new Date(midnight - ((wall.getUTCDay() + 6) % 7) * DAY).toISOString().slice(0, 10);
    }
    case 'monthly': return iso.slice(0, 7);
    case 'yearly': return iso.slice(0, 4);
  }
}

const isNewer = (a: PlannedBackup, b: PlannedBackup): boolean =>
  a.finishedAt.getTime() > b.finishedAt.getTime() || (a.finishedAt.getTime() === b.finishedAt.getTime() && a.id > b.id);

const newestOf = (backups: PlannedBackup[]): PlannedBackup | undefined =>
  backups.reduce<PlannedBackup | undefined>((best, b) => (best === undefined || isNewer(b, best) ? b : best), undefined);

/** Per tier, the ids the tier keeps: group into buckets, take each bucket's newest, keep the N newest buckets. */
function referenceTierKeeps(policy: Extract<RetentionPolicyInput, { kind: 'gfs' }>, backups: PlannedBackup[]): Map<GfsTier, Set<string>> {
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
    case 'time': return new Set(backups.filter((b) => b.finishedAt.getTime() >= now - policy.keepDays * DAY).map((b) => b.id));
    case 'count': return new Set([...backups].sort((a, b) => (isNewer(a, b) ? -1 : 1)).slice(0, policy.keepLast).map((b) => b.id));
    case 'gfs': return new Set([...referenceTierKeeps(policy, backups).values()].flatMap((ids) => [...ids]));
  }
}

const lsnValue = (lsn: string): bigint => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
};
const lsnText = (value: number): string => `${Math.floor(value / 2 ** 32).toString(16).toUpperCase()}/${(value % 2 ** 32).toString(16).toUpperCase()}`;

// ---- generators

const policyArb: fc.Arbitrary<RetentionPolicyInput> = fc.oneof(
  fc.record({ kind: fc.constant('time' as const), keepDays: fc.oneof(fc.integer({ min: 1, max: 14 }), fc.integer({ min: 1, max: 400 })) }),
  fc.record({ kind: fc.constant('count' as const), keepLast: fc.integer({ min: 1, max: 250 }) }),
  fc.record({
    kind: fc.constant('gfs' as const),
    hourly: fc.option(fc.integer({ min: 0, max: 48 }), { nil: undefined }),
    daily: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
    weekly: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
    monthly: fc.option(fc.integer({ min: 0, max: 24 }), { nil: undefined }),
    yearly: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
    timezone: fc.option(fc.constantFrom(...zones), { nil: undefined }),
  }, { requiredKeys: ['kind'] }).map((policy) => (gfsTiers.some((tier) => (policy[tier] ?? 0) > 0) ? policy : { ...policy, daily: 1 })),
);

/** A finish time: anywhere in three years, or shortly before (or after) now, with exact ties and edges. */
const timeSpecArb = fc.oneof(
  fc.record({ at: fc.integer({ min: START, max: START + SPAN }) }),
  fc.record({ ago: fc.integer({ min: -2 * HOUR, max: 90 * DAY }) }),
  fc.record({ ago: fc.constantFrom(0, HOUR - 1, HOUR, HOUR + 1, DAY, 7 * DAY, 30 * DAY) }),
);
const resolve = (spec: { at: number } | { ago: number }, now: number): number => ('at' in spec ? spec.at : now - spec.ago);

const rareFlag = fc.integer({ min: 0, max: 9 }).map((n) => n === 0);

const backupSpecArb = fc.record({ time: timeSpecArb, verified: rareFlag, inUse: rareFlag, partial: rareFlag });

const scenarioArb = fc.record({
  now: fc.integer({ min: START, max: START + SPAN + 30 * DAY }),
  policy: policyArb,
  // Few backups often leave a policy with nothing to keep; rare verifications leave the newest verified one old.
  specs: fc.oneof(fc.array(backupSpecArb, { maxLength: 200, size: 'max' }), fc.array(backupSpecArb, { maxLength: 6 })),
}).map(({ now, policy, specs }) => ({
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

const pitrArb = fc.record({
  now: fc.integer({ min: START + 200 * DAY, max: START + SPAN }),
  windowDays: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constant(0.5)),
  bases: fc.array(fc.record({
    ago: fc.integer({ min: -DAY, max: 120 * DAY }),
    lsnStep: fc.integer({ min: 0, max: 2 ** 28 }),
    newTimeline: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    inUse: rareFlag,
  }), { maxLength: 30, size: 'max' }),
  segments: fc.uniqueArray(fc.record({ index: fc.integer({ min: 0, max: 600 }), timeline: fc.integer({ min: 1, max: 4 }) }), {
    maxLength: 40, size: 'max', selector: (s) => `${s.timeline}:${s.index}`,
  }),
  probes: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
}).map(({ now, windowDays, bases, segments, probes }) => {
  // Realistic history: later base backups start later in the WAL, on the same or a newer timeline.
  const times = bases.map((b) => now - b.ago).sort((a, b) => a - b);
  let lsn = 0x1000000;
  let timeline = 1;
  const baseBackups = bases.map((b, index): PlannedBaseBackup => {
    lsn += b.lsnStep;
    if (b.newTimeline) timeline += 1;
    return { id: `base${String(index).padStart(2, '0')}`, finishedAt: new Date(times[index]!), startLsn: lsnText(lsn), timeline, inUse: b.inUse };
  });
  const segmentSize = 0x1000000;
  const walSegments = segments.map((s): PlannedWalSegment => ({
    name: [s.timeline, Math.floor(s.index / 256), s.index % 256].map((n) => n.toString(16).toUpperCase().padStart(8, '0')).join(''),
    timeline: s.timeline,
    startLsn: lsnText(s.index * segmentSize),
    endLsn: lsnText((s.index + 1) * segmentSize),
  }));
  return { now: new Date(now), windowDays, baseBackups, walSegments, probes };
});

// ---- shared checks

function assertPartition(decisions: { keep: { id: string; reasons: string[] }[]; delete: { id: string; reason: string }[] }, items: { id: string; finishedAt: Date }[]): void {
  const seen = [...decisions.keep.map((d) => d.id), ...decisions.delete.map((d) => d.id)];
  assert.equal(seen.length, items.length, 'every id exactly once');
  assert.deepEqual(new Set(seen), new Set(items.map((b) => b.id)));
  for (const d of decisions.keep) assert.ok(d.reasons.length > 0 && d.reasons.every((r) => r.length > 0), `${d.id} is kept without a reason`);
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
    fc.assert(fc.property(scenarioArb, ({ now, policy, backups }) => {
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
          const buckets: string[] = picked.map((id) => referenceBucket(tier, byId.get(id)!.finishedAt, policy.timezone ?? 'UTC'));
          assert.equal(new Set(buckets).size, buckets.length, `${tier}: two backups of one bucket`);
          assert.ok(picked.length <= (policy[tier] ?? 0), `${tier}: more buckets than the tier allows`);
          assert.deepEqual(new Set(picked), reference.get(tier), `${tier}: differs from the reference`);
          if (tier !== 'weekly') {
            // The reason names the local bucket (the reference names weeks by their Monday instead).
            const shown = (key: string): string => (tier === 'hourly' ? `${key.replace('T', ' ')}:00` : key);
            for (const [index, id] of picked.entries()) {
              assert.ok(plan.keep.find((d) => d.id === id)!.reasons.includes(`${tier} tier: newest of ${shown(buckets[index]!)}`), `${id}: wrong ${tier} bucket`);
            }
          }
        }
      }

      // (e) the safety rules.
      for (const b of backups) {
        if (now.getTime() - b.finishedAt.getTime() < HOUR) assert.ok(kept.has(b.id), `${b.id} is younger than an hour but deleted`);
        if (b.inUse) assert.ok(kept.has(b.id), `${b.id} is in use but deleted`);
      }
      const newestVerified = newestOf(backups.filter((b) => b.verified));
      if (newestVerified !== undefined) assert.ok(kept.has(newestVerified.id), 'the newest verified backup is deleted');
      if (backups.length > 0) {
        assert.ok(kept.size > 0, 'every backup is deleted');
        if (policyKeeps.size === 0) assert.ok(kept.has(newestOf(backups)!.id), 'the newest backup is deleted although the policy keeps none');
      }

      // (d) planning again over what was kept deletes nothing more.
      const again = planRetention({ now, policy, backups: backups.filter((b) => kept.has(b.id)) });
      assert.deepEqual(again.delete, []);
    }), { numRuns: 300 });
  });

  it('keeps every base backup the PITR window needs and never cuts WAL that a kept one replays', () => {
    fc.assert(fc.property(pitrArb, ({ now, windowDays, baseBackups, walSegments, probes }) => {
      const plan = planRetention({ now, policy: { kind: 'count', keepLast: 1 }, backups: [], pitr: { windowDays, baseBackups, walSegments } });
      const decisions = { keep: plan.keepBaseBackups, delete: plan.deleteBaseBackups };
      assertPartition(decisions, baseBackups);
      const kept = baseBackups.filter((b) => plan.keepBaseBackups.some((d) => d.id === b.id));

      const windowStart = now.getTime() - windowDays * DAY;
      const beforeWindow = baseBackups.filter((b) => b.finishedAt.getTime() <= windowStart);
      if (beforeWindow.length === 0) {
        assert.equal(kept.length, baseBackups.length, 'no base backup precedes the window: all must be kept');
      } else {
        const instants = [windowStart, now.getTime(), ...probes.map((p) => windowStart + p * (now.getTime() - windowStart))];
        for (const t of instants) {
          assert.ok(kept.some((b) => b.finishedAt.getTime() <= t), `no kept base backup to recover to ${new Date(t).toISOString()}`);
        }
        for (const b of baseBackups) {
          if (b.finishedAt.getTime() > windowStart) assert.ok(kept.includes(b), `${b.id} lies in the window but is deleted`);
        }
      }
      for (const b of baseBackups) if (b.inUse) assert.ok(kept.includes(b), `${b.id} is in use but deleted`);

      const cut = plan.deleteWalBefore;
      if (cut === null) {
        // Null means nothing could go: no kept base backup, or no segment before the earliest one.
        const earliest = kept.map((b) => lsnValue(b.startLsn)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0];
        if (earliest !== undefined) {
          const holder = kept.find((b) => lsnValue(b.startLsn) === earliest)!;
          assert.ok(!walSegments.some((s) => s.timeline <= holder.timeline && lsnValue(s.endLsn) <= earliest), 'WAL could have been cut');
        }
        return;
      }
      assert.ok(kept.some((b) => b.startLsn === cut.lsn && b.timeline === cut.timeline), 'the cut is the start of a kept base backup');
      const oldestKept = kept.reduce((a, b) => (b.finishedAt < a.finishedAt ? b : a));
      assert.ok(lsnValue(cut.lsn) <= lsnValue(oldestKept.startLsn), 'the cut lies after the oldest kept base backup');
      for (const b of kept) assert.ok(lsnValue(cut.lsn) <= lsnValue(b.startLsn), `the cut lies after kept ${b.id}`);
      const removable = walSegments.filter((s) => isWalSegmentBefore(s, cut));
      assert.ok(removable.length > 0, 'a cut is reported only when some WAL can go');
      for (const s of removable) {
        for (const b of kept) assert.ok(lsnValue(s.endLsn) <= lsnValue(b.startLsn), `${s.name} is needed by ${b.id}`);
      }
    }), { numRuns: 300 });
  });
});

// ---- examples

const backup = (id: string, finishedAt: string, flags: Partial<PlannedBackup> = {}): PlannedBackup =>
  ({ id, finishedAt: new Date(finishedAt), status: 'complete', verified: false, inUse: false, ...flags });

describe('retention planner examples', () => {
  it('gfs daily 7 weekly 4 over 60 daily backups keeps the last 7 days and the newest of the 4 latest weeks', () => {
    // 2026-11-20 is a Friday of ISO week 47; the weeks before end on Sundays 15, 8 and 1 November.
    const backups = Array.from({ length: 60 }, (_, i) => {
      const at = new Date(Date.UTC(2026, 10, 20, 2) - i * DAY);
      return backup(at.toISOString().slice(0, 10), at.toISOString());
    });
    const plan = planRetention({ now: new Date('2026-11-20T12:00:00Z'), policy: { kind: 'gfs', daily: 7, weekly: 4 }, backups });
    assert.deepEqual(plan.keep.map((d) => d.id), [
      '2026-11-20', '2026-11-19', '2026-11-18', '2026-11-17', '2026-11-16', '2026-11-15', '2026-11-14', '2026-11-08', '2026-11-01',
    ]);
    assert.deepEqual(plan.keep[0]!.reasons, ['daily tier: newest of 2026-11-20', 'weekly tier: newest of week 2026-W47']);
    assert.deepEqual(plan.keep[5]!.reasons, ['daily tier: newest of 2026-11-15', 'weekly tier: newest of week 2026-W46']);
    assert.deepEqual(plan.keep[8]!.reasons, ['weekly tier: newest of week 2026-W44']);
    assert.equal(plan.delete.length, 51);
    assert.ok(plan.delete.every((d) => d.reason === reasons.outsideTiers));
    assert.match(plan.summary, /keep 9 of 60 backups, delete 51/);
  });

  it('puts a backup at 23:30 UTC into the next day in Paris', () => {
    const backups = [
      backup('a', '2026-11-20T22:00:00Z'), // 23:00 in Paris, 20 November
      backup('b', '2026-11-20T23:30:00Z'), // 00:30 in Paris, 21 November
      backup('c', '2026-11-19T12:00:00Z'),
    ];
    const now = new Date('2026-11-22T12:00:00Z');
    const utc = planRetention({ now, policy: { kind: 'gfs', daily: 2 }, backups });
    assert.deepEqual(utc.keep.map((d) => d.id), ['b', 'c']);
    assert.deepEqual(utc.keep[0]!.reasons, ['daily tier: newest of 2026-11-20']);
    const paris = planRetention({ now, policy: { kind: 'gfs', daily: 2, timezone: 'Europe/Paris' }, backups });
    assert.deepEqual(paris.keep.map((d) => d.id), ['b', 'a']);
    assert.deepEqual(paris.keep.map((d) => d.reasons), [['daily tier: newest of 2026-11-21'], ['daily tier: newest of 2026-11-20']]);
    assert.deepEqual(paris.delete, [{ id: 'c', reason: 'outside every tier' }]);
  });

  it('counts the repeated hour of a DST change as one hourly bucket', () => {
    // Paris leaves summer time on 2026-10-25: 00:30Z and 01:30Z are both 02:30 local.
    const backups = [backup('summer', '2026-10-25T00:30:00Z'), backup('winter', '2026-10-25T01:30:00Z'), backup('before', '2026-10-24T23:30:00Z')];
    const plan = planRetention({ now: new Date('2026-10-26T00:00:00Z'), policy: { kind: 'gfs', hourly: 2, timezone: 'Europe/Paris' }, backups });
    assert.deepEqual(plan.keep, [
      { id: 'winter', reasons: ['hourly tier: newest of 2026-10-25 02:00'] },
      { id: 'before', reasons: ['hourly tier: newest of 2026-10-25 01:00'] },
    ]);
  });

  it('keeps young, in-use and the newest verified backups whatever the time policy says', () => {
    const backups = [
      backup('young', '2026-11-20T11:30:00Z'),
      backup('recent', '2026-11-15T00:00:00Z'),
      backup('verified', '2026-10-01T00:00:00Z', { verified: true }),
      backup('old-verified', '2026-09-01T00:00:00Z', { verified: true }),
      backup('restoring', '2026-08-01T00:00:00Z', { inUse: true }),
      backup('old', '2026-07-01T00:00:00Z', { status: 'partial' }),
    ];
    const plan = planRetention({ now: new Date('2026-11-20T12:00:00Z'), policy: { kind: 'time', keepDays: 7 }, backups });
    assert.deepEqual(plan.keep, [
      { id: 'young', reasons: ['within the last 7 days', 'younger than one hour'] },
      { id: 'recent', reasons: ['within the last 7 days'] },
      { id: 'verified', reasons: ['newest verified backup'] },
      { id: 'restoring', reasons: ['in use by a restore or verification'] },
    ]);
    assert.deepEqual(plan.delete, [{ id: 'old-verified', reason: 'older than 7 days' }, { id: 'old', reason: 'older than 7 days' }]);
  });

  it('keeps the N newest under a count policy', () => {
    const backups = ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04'].map((day) => backup(day, `${day}T03:00:00Z`));
    const plan = planRetention({ now: new Date('2026-11-20T12:00:00Z'), policy: { kind: 'count', keepLast: 2 }, backups });
    assert.deepEqual(plan.keep, [{ id: '2026-11-04', reasons: ['one of the 2 newest'] }, { id: '2026-11-03', reasons: ['one of the 2 newest'] }]);
    assert.deepEqual(plan.delete.map((d) => d.reason), ['not one of the 2 newest', 'not one of the 2 newest']);
  });

  it('keeps the newest backup when the policy would delete them all', () => {
    const backups = [backup('x', '2026-10-01T00:00:00Z'), backup('y', '2026-10-02T00:00:00Z')];
    const plan = planRetention({ now: new Date('2026-11-20T12:00:00Z'), policy: { kind: 'time', keepDays: 1 }, backups });
    assert.deepEqual(plan.keep, [{ id: 'y', reasons: [reasons.lastStanding] }]);
    assert.deepEqual(plan.delete, [{ id: 'x', reason: 'older than one day' }]);
  });

  it('keeps the base backups of the PITR window and cuts WAL before the oldest kept one', () => {
    const now = Date.parse('2026-11-20T12:00:00Z');
    const base = (id: string, daysAgo: number, startLsn: string, inUse = false): PlannedBaseBackup =>
      ({ id, finishedAt: new Date(now - daysAgo * DAY), startLsn, timeline: 1, inUse });
    const segment = (index: number): PlannedWalSegment => ({
      name: `00000001000000${index.toString(16).toUpperCase().padStart(2, '0')}00000000`,
      timeline: 1, startLsn: `${index.toString(16)}/0`, endLsn: `${(index + 1).toString(16)}/0`,
    });
    const baseBackups = [base('d10', 10, '2/0'), base('d8', 8, '4/28'), base('d6', 6, '6/0'), base('d3', 3, '9/0'), base('d1', 1, 'A/0')];
    const walSegments = [1, 2, 3, 4, 5, 9, 10].map(segment);
    const plan = planRetention({ now: new Date(now), policy: { kind: 'count', keepLast: 1 }, backups: [], pitr: { windowDays: 7, baseBackups, walSegments } });
    assert.deepEqual(plan.keepBaseBackups.map((d) => d.id), ['d1', 'd3', 'd6', 'd8']);
    assert.deepEqual(plan.keepBaseBackups[3]!.reasons, ['needed for the 7-day PITR window']);
    assert.deepEqual(plan.deleteBaseBackups, [{ id: 'd10', reason: 'older than the 7-day PITR window needs' }]);
    assert.deepEqual(plan.deleteWalBefore, { timeline: 1, lsn: '4/28' });
    assert.deepEqual(walSegments.filter((s) => isWalSegmentBefore(s, plan.deleteWalBefore!)).map((s) => s.startLsn), ['1/0', '2/0', '3/0']);
    assert.match(plan.summary, /keep 4 of 5 base backups, delete 1; delete 3 WAL segments before 4\/28 \(timeline 1\)/);

    const inUse = planRetention({ now: new Date(now), policy: { kind: 'count', keepLast: 1 }, backups: [], pitr: { windowDays: 7, baseBackups: [base('d12', 12, '1/0', true), ...baseBackups], walSegments } });
    assert.deepEqual(inUse.keepBaseBackups.at(-1), { id: 'd12', reasons: ['in use by a restore or verification'] });
    assert.deepEqual(inUse.deleteBaseBackups.map((d) => d.id), ['d10']);
    assert.equal(inUse.deleteWalBefore, null, 'no segment ends before 1/0');

    const young = planRetention({ now: new Date(now), policy: { kind: 'count', keepLast: 1 }, backups: [], pitr: { windowDays: 30, baseBackups, walSegments } });
    assert.equal(young.deleteBaseBackups.length, 0, 'no base backup precedes the window: all are kept');
    assert.deepEqual(young.deleteWalBefore, { timeline: 1, lsn: '2/0' });
  });

  it('numbers ISO weeks and orders LSNs as numbers', () => {
    assert.deepEqual(isoWeek(2021, 1, 3), { year: 2020, week: 53 });
    assert.deepEqual(isoWeek(2024, 12, 30), { year: 2025, week: 1 });
    assert.deepEqual(isoWeek(2026, 11, 20), { year: 2026, week: 47 });
    assert.equal(compareLsn('16/B374D848', '16/B374D849'), -1);
    assert.equal(compareLsn('A/0', '9/FFFFFFFF'), 1);
    assert.equal(compareLsn('0/10', '0/010'), 0);
    assert.equal(formatLsn(parseLsn('16/b374d848')), '16/B374D848');
    assert.throws(() => parseLsn('16-B374D848'), /not an LSN/);
  });

  it('refuses bad policies and duplicate ids', () => {
    const now = new Date('2026-11-20T12:00:00Z');
    const bad = (policy: unknown, pattern: RegExp) => assert.throws(
      () => planRetention({ now, policy: policy as RetentionPolicyInput, backups: [] }),
      (error: unknown) => isHindsightError(error) && error.kind === 'bad_input' && pattern.test(error.message),
    );
    bad({ kind: 'gfs', daily: 0 }, /at least one tier above 0/);
    bad({ kind: 'gfs', daily: 3, timezone: 'Mars/Olympus' }, /timezone: timezone must be an IANA time zone/);
    bad({ kind: 'time', keepDays: 0 }, /keepDays: keepDays must be at least 1/);
    bad({ kind: 'count', keepLast: 1.5 }, /keepLast: keepLast must be a whole number/);
    bad({ kind: 'forever' }, /kind must be "time", "count" or "gfs"/);
    assert.throws(
      () => planRetention({ now, policy: { kind: 'count', keepLast: 1 }, backups: [backup('x', '2026-11-01T00:00:00Z'), backup('x', '2026-11-02T00:00:00Z')] }),
      /backup x appears twice/,
    );
  });
});
