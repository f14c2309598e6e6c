import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeLabel } from '../../web/src/lib/route-label.ts';
import { database } from '../../web/src/params/database.ts';

describe('console routes', () => {
  it('labels metrics with the route as it was before groups and matchers', () => {
    assert.equal(routeLabel('/(app)'), '/');
    assert.equal(routeLabel('/(app)/databases/[name=database]'), '/databases/[name]');
    assert.equal(routeLabel('/(app)/databases/[name=database]/events'), '/databases/[name]/events');
    assert.equal(routeLabel('/(app)/hooks/[database=database]'), '/hooks/[database]');
    assert.equal(routeLabel('/(app)/restores/[...id]'), '/restores/[...id]');
    assert.equal(routeLabel('/login'), '/login');
    assert.equal(routeLabel(null), null);
  });

  it('matches only names the catalog can hold', () => {
    for (const name of ['shop', 'a', 'db_2-x', 'x'.repeat(63)]) assert.equal(database(name), name);
    for (const name of ['Shop', '-shop', '_shop', '', 'x'.repeat(64), 'a b', 'a.b', '..'])
      assert.equal(database(name), undefined, name);
  });
});
