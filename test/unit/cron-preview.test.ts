import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatInZone, previewCron } from '../../web/src/lib/cron-preview.ts';

const runsOf = (expr: string, tz: string, from: string, count = 5) => {
  const preview = previewCron(expr, tz, new Date(from), count);
  assert.ok(preview.ok, preview.ok ? '' : preview.error);
  return preview.runs;
};

describe('cron preview: the next runs of a schedule in its time zone', () => {
  it('keeps the wall-clock time across the spring DST change in Europe/Paris (the UTC instant moves an hour)', () => {
    const runs = runsOf('15 4 * * *', 'Europe/Paris', '2026-03-27T12:00:00Z');
    assert.deepEqual(
      runs.map((r) => r.iso),
      [
        '2026-03-28T03:15:00.000Z', // 04:15 CET (UTC+1)
        '2026-03-29T02:15:00.000Z', // 04:15 CEST (UTC+2): clocks went forward at 02:00 that night
        '2026-03-30T02:15:00.000Z',
        '2026-03-31T02:15:00.000Z',
        '2026-04-01T02:15:00.000Z',
      ],
    );
    assert.deepEqual(
      runs.map((r) => r.local),
      [
        'Sat 2026-03-28 04:15 GMT+1',
        'Sun 2026-03-29 04:15 GMT+2',
        'Mon 2026-03-30 04:15 GMT+2',
        'Tue 2026-03-31 04:15 GMT+2',
        'Wed 2026-04-01 04:15 GMT+2',
      ],
    );
  });

  it('runs an hourly schedule once per real hour through the autumn fall-back in America/New_York (01:00 happens twice)', () => {
    const runs = runsOf('0 * * * *', 'America/New_York', '2026-11-01T04:30:00Z');
    assert.deepEqual(
      runs.map((r) => r.iso),
      [
        '2026-11-01T05:00:00.000Z',
        '2026-11-01T06:00:00.000Z',
        '2026-11-01T07:00:00.000Z',
        '2026-11-01T08:00:00.000Z',
        '2026-11-01T09:00:00.000Z',
      ],
    );
    assert.deepEqual(
      runs.map((r) => r.local),
      [
        'Sun 2026-11-01 01:00 GMT-4',
        'Sun 2026-11-01 01:00 GMT-5',
        'Sun 2026-11-01 02:00 GMT-5',
        'Sun 2026-11-01 03:00 GMT-5',
        'Sun 2026-11-01 04:00 GMT-5',
      ],
    );
  });

  it('reads the same expression differently in two zones, and accepts the shorthands', () => {
    const from = '2026-06-10T00:00:00Z';
    assert.equal(runsOf('0 3 * * *', 'UTC', from, 1)[0]!.iso, '2026-06-10T03:00:00.000Z');
    assert.equal(runsOf('0 3 * * *', 'Asia/Tokyo', from, 1)[0]!.iso, '2026-06-10T18:00:00.000Z');
    assert.deepEqual(
      runsOf('@weekly', 'UTC', from, 2).map((r) => r.iso),
      ['2026-06-14T00:00:00.000Z', '2026-06-21T00:00:00.000Z'],
    );
    assert.equal(
      runsOf('  30   2 * *   1-5 ', 'UTC', '2026-06-12T03:00:00Z', 1)[0]!.iso,
      '2026-06-15T02:30:00.000Z',
      'extra spaces are fine; Friday 02:30 has passed, so Monday',
    );
  });

  it('rejects invalid input with a message that says what to write', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['', 'UTC', /Enter a cron expression/],
      ['0 3 * *', 'UTC', /five fields/],
      ['0 0 3 * * *', 'UTC', /five fields/],
      ['61 3 * * *', 'UTC', /not a valid cron expression: .*59/],
      ['0 3 * * mon-fri-sat', 'UTC', /not a valid cron expression/],
      ['@every-minute', 'UTC', /five fields/],
      ['0 3 * * *', 'Mars/Olympus_Mons', /not a time zone.*IANA/],
      ['0 0 31 2 *', 'UTC', /never runs|not a valid/],
    ];
    for (const [expr, tz, message] of cases) {
      const preview = previewCron(expr, tz, new Date('2026-06-10T00:00:00Z'));
      assert.equal(preview.ok, false, `${JSON.stringify(expr)} in ${tz} must be refused`);
      assert.match(preview.ok ? '' : preview.error, message, `${JSON.stringify(expr)} in ${tz}`);
    }
  });

  it("formats an instant as the zone's wall clock with its offset", () => {
    assert.equal(formatInZone(new Date('2026-01-15T12:00:00Z'), 'Asia/Kolkata'), 'Thu 2026-01-15 17:30 GMT+5:30');
    assert.equal(formatInZone(new Date('2026-01-15T12:00:00Z'), 'UTC'), 'Thu 2026-01-15 12:00 UTC');
  });
});
