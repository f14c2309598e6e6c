import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkServerClock, MAX_SERVER_CLOCK_SKEW_MS } from '../../lib/pg/server-clock.ts';

const local = new Date('2026-12-07T12:00:00Z');
const offset = (ms: number) => new Date(local.getTime() + ms);

describe('a source server clock dates base backups only while it is within a day of this host', () => {
  it('takes minutes of skew either way as the server reads them', () => {
    for (const ms of [0, 10 * 60_000, -10 * 60_000, MAX_SERVER_CLOCK_SKEW_MS, -MAX_SERVER_CLOCK_SKEW_MS])
      assert.equal(checkServerClock('shop', offset(ms), local).getTime(), local.getTime() + ms);
  });

  it('refuses a clock a year ahead, naming the server, both times and the fix', () => {
    assert.throws(() => checkServerClock('shop', offset(365 * MAX_SERVER_CLOCK_SKEW_MS), local), {
      message:
        'server of "shop": its clock reads 2027-12-07T12:00:00.000Z, 8760 hours ahead of this host\'s (2026-12-07T12:00:00.000Z); ' +
        "times on it cannot date a backup: set the server's clock right (NTP), then take the backup again",
    });
  });

  it('refuses a clock just over a day behind', () => {
    assert.throws(() => checkServerClock('shop', offset(-MAX_SERVER_CLOCK_SKEW_MS - 1000), local), /24 hours behind/);
  });
});
