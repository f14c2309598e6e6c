import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NAME_PATTERN } from '../../lib/names.ts';
import { databaseNameFor, matchesPattern, planDiscovery, type DiscoveryInput } from '../../lib/servers/discovery.ts';

const input = (over: Partial<DiscoveryInput>): DiscoveryInput => ({
  server: 'pg',
  live: [],
  known: [],
  excludes: [],
  includePostgres: false,
  taken: new Set(),
  ...over,
});
const known = (name: string, datname: string, dropped = false) => ({
  name,
  datname,
  droppedAt: dropped ? new Date('2026-12-01T00:00:00Z') : null,
});

describe('the name a discovered database gets', () => {
  it('is <server>-<datname> when that is a valid name already', () => {
    assert.equal(databaseNameFor('pg', 'shop'), 'pg-shop');
    assert.equal(databaseNameFor('eu-1', 'app_2'), 'eu-1-app_2');
  });

  it('is cleaned up, with a hash of the exact datname, when not', () => {
    const upper = databaseNameFor('pg', 'Shop');
    const lower = databaseNameFor('pg', 'shop');
    assert.match(upper, /^pg-shop-[0-9a-f]{6}$/);
    assert.notEqual(upper, lower, '"Shop" and "shop" never share a name');
    assert.match(databaseNameFor('pg', 'my db.prod'), /^pg-my-db-prod-[0-9a-f]{6}$/);
    assert.match(databaseNameFor('pg', 'ü'), /^pg-[0-9a-f]{6}$/);
    for (const datname of ['Shop', 'a'.repeat(200), 'x/../y', '--', 'ünïcode', ' ', 'A'.repeat(61)]) {
      const name = databaseNameFor('pg', datname);
      assert.ok(NAME_PATTERN.test(name), `${JSON.stringify(datname)} → ${name}`);
    }
    assert.notEqual(databaseNameFor('pg', `${'a'.repeat(100)}1`), databaseNameFor('pg', `${'a'.repeat(100)}2`));
  });
});

describe('exclude patterns', () => {
  it('match as a shell does, everything else literal', () => {
    assert.ok(matchesPattern('test_1', 'test_*'));
    assert.ok(matchesPattern('tmp1', 'tmp?'));
    assert.ok(!matchesPattern('tmp12', 'tmp?'));
    assert.ok(!matchesPattern('shopx', 'shop'));
    assert.ok(!matchesPattern('aXb', 'a.b'), 'a dot is a dot');
    assert.ok(matchesPattern('a.b', 'a.b'));
    assert.ok(matchesPattern('(x)', '(x)'));
  });
});

describe('a run decides from what the server has and what it registered', () => {
  it('registers new databases, leaving out postgres and the excluded ones', () => {
    const plan = planDiscovery(input({ live: ['shop', 'postgres', 'test_a', 'crm'], excludes: ['test_*'] }));
    assert.deepEqual(plan.register, [
      { datname: 'crm', name: 'pg-crm' },
      { datname: 'shop', name: 'pg-shop' },
    ]);
    assert.deepEqual(plan.excluded, ['postgres', 'test_a']);
    assert.deepEqual(plan.backup, ['pg-crm', 'pg-shop']);
    assert.deepEqual([plan.dropped, plan.reappeared, plan.collisions], [[], [], []]);
  });

  it('takes postgres when asked', () => {
    const plan = planDiscovery(input({ live: ['postgres'], includePostgres: true }));
    assert.deepEqual(plan.register, [{ datname: 'postgres', name: 'pg-postgres' }]);
  });

  it('backs up the ones it knows, registered ones before new ones, and registers nothing twice', () => {
    const plan = planDiscovery(input({ live: ['b', 'a', 'c'], known: [known('pg-c', 'c'), known('pg-a', 'a')] }));
    assert.deepEqual(plan.register, [{ datname: 'b', name: 'pg-b' }]);
    assert.deepEqual(plan.backup, ['pg-a', 'pg-c', 'pg-b']);
  });

  it('marks the ones the server no longer has as dropped, once', () => {
    const plan = planDiscovery(
      input({ live: ['a'], known: [known('pg-a', 'a'), known('pg-b', 'b'), known('pg-c', 'c', true)] }),
    );
    assert.deepEqual(plan.dropped, ['pg-b']);
    assert.deepEqual(plan.backup, ['pg-a']);
  });

  it('clears the mark of one that is back, and backs it up again', () => {
    const plan = planDiscovery(input({ live: ['c'], known: [known('pg-c', 'c', true)] }));
    assert.deepEqual(plan.reappeared, ['pg-c']);
    assert.deepEqual(plan.backup, ['pg-c']);
    assert.deepEqual(plan.register, []);
  });

  it('does not drop a known database that is now excluded: the server still has it', () => {
    const plan = planDiscovery(input({ live: ['a'], known: [known('pg-a', 'a')], excludes: ['a'] }));
    assert.deepEqual([plan.dropped, plan.backup, plan.excluded], [[], [], ['a']]);
  });

  it('refuses a name registered by someone else, naming both ways out', () => {
    const plan = planDiscovery(input({ live: ['shop', 'crm'], taken: new Set(['pg-shop']) }));
    assert.deepEqual(plan.register, [{ datname: 'crm', name: 'pg-crm' }]);
    assert.equal(plan.collisions.length, 1);
    assert.equal(plan.collisions[0]!.name, 'pg-shop');
    assert.match(plan.collisions[0]!.reason, /"pg-shop" is already registered/);
    assert.match(plan.collisions[0]!.reason, /hindsight server update pg --exclude shop/);
    assert.deepEqual(plan.backup, ['pg-crm']);
  });
});
