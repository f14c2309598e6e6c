import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { previewCron } from '../../lib/schedule/cron.ts';
import { cronAtSecond, spreadCron, spreadSecond } from '../../lib/schedule/spread.ts';

describe('backup schedules spread over their minute', () => {
  it('gives a name the same second every time, and 10,000 names every second of the minute about equally', () => {
    assert.equal(spreadSecond('shop'), spreadSecond('shop'));
    const perSecond = new Array<number>(60).fill(0);
    for (let i = 0; i < 10_000; i++) perSecond[spreadSecond(`db_${i}`)]! += 1;
    // 10,000 over 60 seconds is 167 each: none empty, none more than a third over.
    assert.ok(Math.min(...perSecond) > 110, `fewest on one second: ${Math.min(...perSecond)}`);
    assert.ok(Math.max(...perSecond) < 225, `most on one second: ${Math.max(...perSecond)}`);
  });

  it("writes the operator's five fields as Temporal's seven (second first, any year last)", () => {
    assert.equal(cronAtSecond('15 4 * * 1-5', 37), '37 15 4 * * 1-5 *');
    assert.equal(cronAtSecond('  */20   9-17 * jan-jun mon,wed ', 0), '0 */20 9-17 * jan-jun mon,wed *');
    assert.equal(cronAtSecond('@hourly', 5), '5 0 * * * * *');
    assert.equal(cronAtSecond('@DAILY', 59), '59 0 0 * * * *');
    assert.equal(spreadCron('0 3 * * *', 'shop'), `${spreadSecond('shop')} 0 3 * * * *`);
  });

  it('refuses a second outside 0–59', () => {
    assert.throws(() => cronAtSecond('0 3 * * *', 60), /0–59, got 60/);
    assert.throws(() => cronAtSecond('0 3 * * *', 1.5), /0–59/);
  });

  it("lists a database's next runs at its second, the minute shown as written", () => {
    const runs = (from: string) => {
      const preview = previewCron('30 2 * * *', 'Europe/Paris', new Date(from), 2, 17);
      assert.ok(preview.ok);
      return preview.runs;
    };
    // 02:30 in Paris is 01:30 UTC in winter: a run of this minute whose second has not come is next.
    assert.deepEqual(runs('2026-01-10T01:30:10Z'), [
      { iso: '2026-01-10T01:30:17.000Z', local: 'Sat 2026-01-10 02:30 GMT+1' },
      { iso: '2026-01-11T01:30:17.000Z', local: 'Sun 2026-01-11 02:30 GMT+1' },
    ]);
    assert.equal(runs('2026-01-10T01:30:17Z')[0]!.iso, '2026-01-11T01:30:17.000Z', 'strictly after');
  });
});
