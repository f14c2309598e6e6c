import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cronSchema } from '../../services/input.ts';
import { HindsightError } from '../../lib/errors.ts';
import { cronProblem, formatInZone, nextCronRuns, previewCron } from '../../lib/schedule/cron.ts';

const runsOf = (expr: string, tz: string, from: string, count = 5) => {
  const preview = previewCron(expr, tz, new Date(from), count);
  assert.ok(preview.ok, preview.ok ? '' : preview.error);
  return preview.runs;
};

const isoOf = (expr: string, tz: string, from: string, count = 5) =>
  nextCronRuns(expr, tz, count, new Date(from)).map((d) => d.toISOString());

/** Wall-clock runs across daylight-saving changes, as the console lists them. */
const dstCases = [
  {
    name: 'keeps the wall-clock time across the spring DST change in Europe/Paris (the UTC instant moves an hour)',
    expr: '15 4 * * *',
    tz: 'Europe/Paris',
    from: '2026-03-27T12:00:00Z',
    iso: ['2026-03-28T03:15', '2026-03-29T02:15', '2026-03-30T02:15', '2026-03-31T02:15', '2026-04-01T02:15'],
    local: [
      'Sat 2026-03-28 04:15 GMT+1',
      'Sun 2026-03-29 04:15 GMT+2', // clocks went forward at 02:00 that night
      'Mon 2026-03-30 04:15 GMT+2',
      'Tue 2026-03-31 04:15 GMT+2',
      'Wed 2026-04-01 04:15 GMT+2',
    ],
  },
  {
    name: 'runs an hourly schedule once per real hour through the autumn fall-back in America/New_York (01:00 happens twice)',
    expr: '0 * * * *',
    tz: 'America/New_York',
    from: '2026-11-01T04:30:00Z',
    iso: ['2026-11-01T05:00', '2026-11-01T06:00', '2026-11-01T07:00', '2026-11-01T08:00', '2026-11-01T09:00'],
    local: [
      'Sun 2026-11-01 01:00 GMT-4',
      'Sun 2026-11-01 01:00 GMT-5',
      'Sun 2026-11-01 02:00 GMT-5',
      'Sun 2026-11-01 03:00 GMT-5',
      'Sun 2026-11-01 04:00 GMT-5',
    ],
  },
];

describe('schedules: the next runs in the time zone', () => {
  for (const c of dstCases) {
    it(c.name, () => {
      const runs = runsOf(c.expr, c.tz, c.from);
      assert.deepEqual(
        runs.map((r) => r.iso),
        c.iso.map((at) => `${at}:00.000Z`),
      );
      assert.deepEqual(
        runs.map((r) => r.local),
        c.local,
      );
    });
  }

  it('skips a time the spring change removes: 02:30 does not exist in New York on 2026-03-08', () => {
    assert.deepEqual(isoOf('30 4 * * *', 'America/New_York', '2026-03-08T00:00:00Z', 2), [
      '2026-03-08T08:30:00.000Z',
      '2026-03-09T08:30:00.000Z',
    ]);
  });

  it('reads the same expression differently in two zones, and accepts the shorthands', () => {
    const from = '2026-06-10T00:00:00Z';
    assert.equal(runsOf('0 3 * * *', 'UTC', from, 1)[0]!.iso, '2026-06-10T03:00:00.000Z');
    assert.equal(runsOf('0 3 * * *', 'Asia/Tokyo', from, 1)[0]!.iso, '2026-06-10T18:00:00.000Z');
    assert.deepEqual(isoOf('@weekly', 'UTC', from, 2), ['2026-06-14T00:00:00.000Z', '2026-06-21T00:00:00.000Z']);
    assert.equal(
      runsOf('  30   2 * *   1-5 ', 'UTC', '2026-06-12T03:00:00Z', 1)[0]!.iso,
      '2026-06-15T02:30:00.000Z',
      'extra spaces are fine; Friday 02:30 has passed, so Monday',
    );
    const shorthands: Array<[string, string]> = [
      ['@hourly', '2026-06-10T01:00:00.000Z'],
      ['@daily', '2026-06-11T00:00:00.000Z'],
      ['@monthly', '2026-07-01T00:00:00.000Z'],
      ['@yearly', '2027-01-01T00:00:00.000Z'],
      ['@annually', '2027-01-01T00:00:00.000Z'],
      ['@DAILY', '2026-06-11T00:00:00.000Z'],
    ];
    for (const [shorthand, first] of shorthands) assert.equal(isoOf(shorthand, 'UTC', from, 1)[0], first, shorthand);
  });

  it("follows Temporal's reading: names, Sunday as 7, steps from a start, and both day fields restricted must both match", () => {
    const from = '2026-06-10T00:00:00Z';
    assert.deepEqual(isoOf('0 0 * jan-mar SUN', 'UTC', from, 1), ['2027-01-03T00:00:00.000Z']);
    assert.deepEqual(isoOf('0 0 * * 7', 'UTC', from, 1), isoOf('0 0 * * 0', 'UTC', from, 1));
    assert.deepEqual(isoOf('5/20 9 * * *', 'UTC', from, 3), [
      '2026-06-10T09:05:00.000Z',
      '2026-06-10T09:25:00.000Z',
      '2026-06-10T09:45:00.000Z',
    ]);
    // Friday the 13th only — classic cron would fire every Friday and every 13th.
    assert.deepEqual(isoOf('0 0 13 * 5', 'UTC', '2026-12-06T00:00:00Z', 3), [
      '2027-08-13T00:00:00.000Z',
      '2028-10-13T00:00:00.000Z',
      '2029-04-13T00:00:00.000Z',
    ]);
    assert.deepEqual(isoOf('0 0 30,31 2,4 *', 'UTC', from, 1), ['2027-04-30T00:00:00.000Z'], 'April 30 exists');
    // Runs are listed up to five years ahead: the next leap day after 2028 is too far.
    assert.deepEqual(isoOf('0 0 29 2 *', 'UTC', from, 2), ['2028-02-29T00:00:00.000Z']);
  });

  it("formats an instant as the zone's wall clock with its offset", () => {
    assert.equal(formatInZone(new Date('2026-01-15T12:00:00Z'), 'Asia/Kolkata'), 'Thu 2026-01-15 17:30 GMT+5:30');
    assert.equal(formatInZone(new Date('2026-01-15T12:00:00Z'), 'UTC'), 'Thu 2026-01-15 12:00 UTC');
  });
});

describe('schedules: refusals name the field, the value and the range, or why it never fires', () => {
  const refusals: Array<[string, string]> = [
    ['30 25 * * *', "hour 25 is out of range 0–23 in '30 25 * * *'"],
    ['61 3 * * *', "minute 61 is out of range 0–59 in '61 3 * * *'"],
    ['0 3 0 * *', "day-of-month 0 is out of range 1–31 in '0 3 0 * *'"],
    ['0 3 * 13 *', "month 13 is out of range 1–12 or jan–dec in '0 3 * 13 *'"],
    ['0 3 * * 8', "day-of-week 8 is out of range 0–7 or sun–sat in '0 3 * * 8'"],
    ['0 3 * foo *', "month 'foo' is not a value in '0 3 * foo *': use 1–12 or jan–dec"],
    ['5-2 * * * *', "minute range 5-2 runs backwards in '5-2 * * * *': write the smaller value first"],
    ['*/0 * * * *', "minute step */0 in '*/0 * * * *' must be at least 1"],
    ['30 2 31 2 *', "'30 2 31 2 *' never fires: day-of-month 31 does not occur in month 2 (February)"],
    ['0 0 31 4,6 *', "'0 0 31 4,6 *' never fires: day-of-month 31 does not occur in months 4, 6 (April, June)"],
    [
      '0 0 29 2 1',
      "'0 0 29 2 1' never fires within 5 years in UTC: its day-of-month and day-of-week must both match, and never do",
    ],
  ];
  for (const [expr, message] of refusals) {
    it(`refuses '${expr}'`, () => {
      assert.equal(cronProblem(expr, 'UTC', new Date('2026-06-10T00:00:00Z')), message);
    });
  }

  it("refuses six fields, unknown shorthands and the extensions Temporal's parser lacks or reads otherwise", () => {
    const cases: Array<[string, RegExp]> = [
      ['0 0 3 * * *', /^'0 0 3 \* \* \*' has 6 fields \(a sixth field .* not supported\): use five fields/],
      ['0 3 * *', /has 4 fields: use five fields \(minute hour day-of-month month day-of-week\)/],
      ['every hour', /^'every hour' has 2 fields/],
      ['@every-minute', /^'@every-minute' is not a shorthand Temporal knows: use @hourly, @daily/],
      ['0 3 * * mon-fri-sat', /^day-of-week 'mon-fri-sat' is not understood in '0 3 \* \* mon-fri-sat': use .* 0–7/],
      // Temporal reads `#` as a comment: 1#2 would run every Monday, not the second one.
      ['0 0 * * 1#2', /^day-of-week '1#2' is not understood .*not part of Temporal's cron syntax/],
      ['0 0 L * *', /^day-of-month 'L' is not a value .*not part of Temporal's cron syntax/],
      ['0 0 ? * *', /^day-of-month '\?' is not understood .*not part of Temporal's cron syntax/],
      ['H 0 * * *', /^minute 'H' is not a value .*not part of Temporal's cron syntax/],
    ];
    for (const [expr, message] of cases) assert.match(cronProblem(expr) ?? 'accepted', message, expr);
  });

  it('refuses an unknown zone and an empty line in the preview, and throws a bad_input error for runs', () => {
    const from = new Date('2026-06-10T00:00:00Z');
    const zone = previewCron('0 3 * * *', 'Mars/Olympus_Mons', from);
    assert.deepEqual(zone, {
      ok: false,
      error: "time zone 'Mars/Olympus_Mons' is not an IANA name such as UTC or Europe/Paris",
    });
    const empty = previewCron('  ', 'UTC', from);
    assert.match(empty.ok ? '' : empty.error, /^Enter a cron expression/);
    assert.throws(
      () => nextCronRuns('30 25 * * *', 'UTC'),
      (e: unknown) =>
        e instanceof HindsightError && e.kind === 'bad_input' && /hour 25 is out of range 0–23/.test(e.message),
    );
  });

  it('is the rule of the services’ zod schema: good lines pass trimmed, bad ones fail with the same message', () => {
    assert.equal(cronSchema.parse('  15 4 * * 1-5 '), '15 4 * * 1-5');
    assert.equal(cronSchema.parse('@daily'), '@daily');
    const refused = cronSchema.safeParse('30 2 31 2 *');
    assert.equal(refused.success, false);
    assert.deepEqual(
      refused.error?.issues.map((i) => i.message),
      [cronProblem('30 2 31 2 *')],
    );
  });
});
