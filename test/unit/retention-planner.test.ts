import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHindsightError } from '../../lib/errors.ts';
import {
  compareLsn,
  formatLsn,
  isoWeek,
  parseLsn,
  isWalSegmentBefore,
  planRetention,
  reasons,
  type PlannedBackup,
  type PlannedBaseBackup,
  type PlannedWalSegment,
} from '../../lib/retention/planner.ts';
import type { RetentionPolicyInput } from '../../lib/retention/policy.ts';

// The planner on worked examples; retention-planner-properties.test.ts checks it against a reference model.

const DAY = 86_400_000;

const backup = (id: string, finishedAt: string, flags: Partial<PlannedBackup> = {}): PlannedBackup => ({
  id,
  finishedAt: new Date(finishedAt),
  status: 'complete',
  verified: false,
  inUse: false,
  ...flags,
});

describe('retention planner examples', () => {
  it('gfs daily 7 weekly 4 over 60 daily backups keeps the last 7 days and the newest of the 4 latest weeks', () => {
    // 2026-11-20 is a Friday of ISO week 47; the weeks before end on Sundays 15, 8 and 1 November.
    const backups = Array.from({ length: 60 }, (_, i) => {
      const at = new Date(Date.UTC(2026, 10, 20, 2) - i * DAY);
      return backup(at.toISOString().slice(0, 10), at.toISOString());
    });
    const plan = planRetention({
      now: new Date('2026-11-20T12:00:00Z'),
      policy: { kind: 'gfs', daily: 7, weekly: 4 },
      backups,
    });
    // The daily tier keeps the last 7 days; of the 4 latest weeks, the two before those add their Sundays.
    const daily = ['2026-11-20', '2026-11-19', '2026-11-18', '2026-11-17', '2026-11-16', '2026-11-15', '2026-11-14'];
    assert.deepEqual(
      plan.keep.map((d) => d.id),
      [...daily, '2026-11-08', '2026-11-01'],
    );
    assert.deepEqual(plan.keep[0]!.reasons, [
      'daily tier: newest of 2026-11-20',
      'weekly tier: newest of week 2026-W47',
    ]);
    assert.deepEqual(plan.keep[5]!.reasons, [
      'daily tier: newest of 2026-11-15',
      'weekly tier: newest of week 2026-W46',
    ]);
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
    assert.deepEqual(
      utc.keep.map((d) => d.id),
      ['b', 'c'],
    );
    assert.deepEqual(utc.keep[0]!.reasons, ['daily tier: newest of 2026-11-20']);
    const paris = planRetention({ now, policy: { kind: 'gfs', daily: 2, timezone: 'Europe/Paris' }, backups });
    assert.deepEqual(
      paris.keep.map((d) => d.id),
      ['b', 'a'],
    );
    assert.deepEqual(
      paris.keep.map((d) => d.reasons),
      [['daily tier: newest of 2026-11-21'], ['daily tier: newest of 2026-11-20']],
    );
    assert.deepEqual(paris.delete, [{ id: 'c', reason: 'outside every tier' }]);
  });

  it('counts the repeated hour of a DST change as one hourly bucket', () => {
    // Paris leaves summer time on 2026-10-25: 00:30Z and 01:30Z are both 02:30 local.
    const backups = [
      backup('summer', '2026-10-25T00:30:00Z'),
      backup('winter', '2026-10-25T01:30:00Z'),
      backup('before', '2026-10-24T23:30:00Z'),
    ];
    const plan = planRetention({
      now: new Date('2026-10-26T00:00:00Z'),
      policy: { kind: 'gfs', hourly: 2, timezone: 'Europe/Paris' },
      backups,
    });
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
    const plan = planRetention({
      now: new Date('2026-11-20T12:00:00Z'),
      policy: { kind: 'time', keepDays: 7 },
      backups,
    });
    assert.deepEqual(plan.keep, [
      { id: 'young', reasons: ['within the last 7 days', 'younger than one hour'] },
      { id: 'recent', reasons: ['within the last 7 days'] },
      { id: 'verified', reasons: ['newest verified backup'] },
      { id: 'restoring', reasons: ['in use by a restore or verification'] },
    ]);
    assert.deepEqual(plan.delete, [
      { id: 'old-verified', reason: 'older than 7 days' },
      { id: 'old', reason: 'older than 7 days' },
    ]);
  });

  it('keeps the N newest under a count policy', () => {
    const backups = ['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04'].map((day) =>
      backup(day, `${day}T03:00:00Z`),
    );
    const plan = planRetention({
      now: new Date('2026-11-20T12:00:00Z'),
      policy: { kind: 'count', keepLast: 2 },
      backups,
    });
    assert.deepEqual(plan.keep, [
      { id: '2026-11-04', reasons: ['one of the 2 newest'] },
      { id: '2026-11-03', reasons: ['one of the 2 newest'] },
    ]);
    assert.deepEqual(
      plan.delete.map((d) => d.reason),
      ['not one of the 2 newest', 'not one of the 2 newest'],
    );
  });

  it('keeps the newest backup when the policy would delete them all', () => {
    const backups = [backup('x', '2026-10-01T00:00:00Z'), backup('y', '2026-10-02T00:00:00Z')];
    const plan = planRetention({
      now: new Date('2026-11-20T12:00:00Z'),
      policy: { kind: 'time', keepDays: 1 },
      backups,
    });
    assert.deepEqual(plan.keep, [{ id: 'y', reasons: [reasons.lastStanding] }]);
    assert.deepEqual(plan.delete, [{ id: 'x', reason: 'older than one day' }]);
  });

  it('keeps the base backups of the PITR window and cuts WAL before the oldest kept one', () => {
    const now = Date.parse('2026-11-20T12:00:00Z');
    const base = (id: string, daysAgo: number, startLsn: string, inUse = false): PlannedBaseBackup => ({
      id,
      finishedAt: new Date(now - daysAgo * DAY),
      startLsn,
      timeline: 1,
      inUse,
    });
    const segment = (index: number): PlannedWalSegment => ({
      name: `00000001000000${index.toString(16).toUpperCase().padStart(2, '0')}00000000`,
      timeline: 1,
      startLsn: `${index.toString(16)}/0`,
      endLsn: `${(index + 1).toString(16)}/0`,
    });
    const baseBackups = [
      base('d10', 10, '2/0'),
      base('d8', 8, '4/28'),
      base('d6', 6, '6/0'),
      base('d3', 3, '9/0'),
      base('d1', 1, 'A/0'),
    ];
    const walSegments = [1, 2, 3, 4, 5, 9, 10].map(segment);
    const plan = planRetention({
      now: new Date(now),
      policy: { kind: 'count', keepLast: 1 },
      backups: [],
      pitr: { windowDays: 7, baseBackups, walSegments },
    });
    assert.deepEqual(
      plan.keepBaseBackups.map((d) => d.id),
      ['d1', 'd3', 'd6', 'd8'],
    );
    assert.deepEqual(plan.keepBaseBackups[3]!.reasons, ['needed for the 7-day PITR window']);
    assert.deepEqual(plan.deleteBaseBackups, [{ id: 'd10', reason: 'older than the 7-day PITR window needs' }]);
    assert.deepEqual(plan.deleteWalBefore, { timeline: 1, lsn: '4/28' });
    assert.deepEqual(
      walSegments.filter((s) => isWalSegmentBefore(s, plan.deleteWalBefore!)).map((s) => s.startLsn),
      ['1/0', '2/0', '3/0'],
    );
    assert.match(plan.summary, /keep 4 of 5 base backups, delete 1; delete 3 WAL segments before 4\/28 \(timeline 1\)/);

    const inUse = planRetention({
      now: new Date(now),
      policy: { kind: 'count', keepLast: 1 },
      backups: [],
      pitr: { windowDays: 7, baseBackups: [base('d12', 12, '1/0', true), ...baseBackups], walSegments },
    });
    assert.deepEqual(inUse.keepBaseBackups.at(-1), { id: 'd12', reasons: ['in use by a restore or verification'] });
    assert.deepEqual(
      inUse.deleteBaseBackups.map((d) => d.id),
      ['d10'],
    );
    assert.equal(inUse.deleteWalBefore, null, 'no segment ends before 1/0');

    const young = planRetention({
      now: new Date(now),
      policy: { kind: 'count', keepLast: 1 },
      backups: [],
      pitr: { windowDays: 30, baseBackups, walSegments },
    });
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
    const bad = (policy: unknown, pattern: RegExp) =>
      assert.throws(
        () => planRetention({ now, policy: policy as RetentionPolicyInput, backups: [] }),
        (error: unknown) => isHindsightError(error) && error.kind === 'bad_input' && pattern.test(error.message),
      );
    bad({ kind: 'gfs', daily: 0 }, /at least one tier above 0/);
    bad({ kind: 'gfs', daily: 3, timezone: 'Mars/Olympus' }, /timezone: timezone must be an IANA time zone/);
    bad({ kind: 'time', keepDays: 0 }, /keepDays: keepDays must be at least 1/);
    bad({ kind: 'count', keepLast: 1.5 }, /keepLast: keepLast must be a whole number/);
    bad({ kind: 'forever' }, /kind must be "time", "count" or "gfs"/);
    assert.throws(
      () =>
        planRetention({
          now,
          policy: { kind: 'count', keepLast: 1 },
          backups: [backup('x', '2026-11-01T00:00:00Z'), backup('x', '2026-11-02T00:00:00Z')],
        }),
      /backup x appears twice/,
    );
  });
});
