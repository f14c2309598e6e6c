import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drillChange } from '../../cli/handlers/db-drill.ts';
import { drillDatabaseName, drillNamePattern, drillPrefixOf } from '../../lib/drill/drill-database.ts';
import { spreadSecond } from '../../lib/schedule/spread.ts';
import { defaultDrillCron, restoreDrillSettingsInput } from '../../services/restore-drills/input.ts';
import { restoreDrillInput } from '../../temporal/contracts/restore-drill.ts';

/** The messages zod gives for an input, one per problem. */
function refusals(input: unknown): string[] {
  const parsed = restoreDrillSettingsInput.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('restore drill settings', () => {
  it('take a postgres:// target and a five-field cron, and refuse anything else naming the field', () => {
    assert.deepEqual(refusals({ target: 'postgres://drill:pw@db2:5432/postgres' }), []);
    assert.deepEqual(refusals({ target: 'postgresql://drill@db2/postgres', cron: '0 4 * * 0' }), []);
    assert.deepEqual(refusals({ cron: '@monthly' }), [], 'the cron alone keeps the saved target');
    assert.match(refusals({ target: 'mysql://db2/x' }).join('\n'), /^target: must start with postgres:\/\//);
    assert.match(refusals({ target: 'postgres://[bad' }).join('\n'), /^target: is not a valid URL/);
    assert.match(refusals({ target: 'postgres://db2/x', cron: 'every day' }).join('\n'), /^cron: /);
    assert.match(refusals({}).join('\n'), /nothing to change: give the restore drill target, its cron, or both/);
    assert.match(refusals({ target: 'postgres://db2/x', password: 'x' }).join('\n'), /password/);
  });

  it('default to a monthly cron at the database’s own minute', () => {
    assert.equal(defaultDrillCron('shop'), `${spreadSecond('shop')} 3 1 * *`);
    assert.deepEqual(refusals({ cron: defaultDrillCron('a-very-long-database-name') }), []);
  });

  it('come from db update’s flags: a target, a cron, both, or off (and a cron with off is a mistake)', () => {
    assert.equal(drillChange(undefined, undefined), undefined);
    assert.equal(drillChange('off', undefined), 'off');
    assert.deepEqual(drillChange('postgres://h/postgres', undefined), { target: 'postgres://h/postgres' });
    assert.deepEqual(drillChange(undefined, '0 1 * * *'), { cron: '0 1 * * *' });
    assert.throws(
      () => drillChange('off', '0 1 * * *'),
      /--restore-drill-cron means nothing with --restore-drill-target off/,
    );
  });

  it('start a workflow only for a registered-looking name and a known trigger', () => {
    assert.equal(restoreDrillInput.parse({ database: 'shop' }).trigger, 'schedule');
    assert.equal(restoreDrillInput.safeParse({ database: 'Shop;drop' }).success, false);
    assert.equal(restoreDrillInput.safeParse({ database: 'shop', trigger: 'backup' }).success, false);
  });
});

describe('drill database names', () => {
  it('are hindsight_drill_<db>_<yyyymmddhhmmss> in UTC, within PostgreSQL’s 63 bytes', () => {
    const at = new Date('2026-12-01T03:17:42.123Z');
    assert.equal(drillDatabaseName('shop', at), 'hindsight_drill_shop_20261201031742');
    const long = drillDatabaseName('x'.repeat(63), at);
    assert.ok(long.length <= 63, long);
    assert.ok(long.endsWith('_20261201031742'));
  });

  it('are told apart from another database’s drills and from anything else on the server', () => {
    const pattern = new RegExp(drillNamePattern('shop'));
    assert.ok(pattern.test('hindsight_drill_shop_20261201031742'));
    assert.ok(!pattern.test('hindsight_drill_shop_eu_20261201031742'), 'shop_eu’s drill is not shop’s');
    assert.ok(!pattern.test('hindsight_drill_shop_2026'), 'only the full timestamp');
    assert.ok(!pattern.test('shop'));
    const dashed = new RegExp(drillNamePattern('my-shop'));
    assert.ok(dashed.test(`${drillPrefixOf('my-shop')}20261201031742`));
    assert.ok(!dashed.test('hindsight_drill_myxshop_20261201031742'), 'a "-" matches only itself');
  });
});
