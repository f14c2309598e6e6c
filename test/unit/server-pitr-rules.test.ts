import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backedUpByRuns, chooseCarrier, offRefusal, type CarrierFacts } from '../../lib/servers/pitr-rules.ts';

const facts = (over: Partial<CarrierFacts>): CarrierFacts => ({
  server: 'pg1',
  serverWorkspace: 1,
  recorded: null,
  alone: null,
  connectionDatabase: 'pg1-postgres',
  ...over,
});

describe('server PITR: which database carries the archive', () => {
  it('a first time with nothing archiving: the connection database is registered for it', () => {
    assert.deepEqual(chooseCarrier(facts({})), { kind: 'register', name: 'pg1-postgres' });
  });

  it('a database archiving the cluster alone is taken over, so nothing it recorded is lost', () => {
    const choice = chooseCarrier(facts({ alone: { name: 'shop', workspace: 1 } }));
    assert.deepEqual(choice, { kind: 'take-over', name: 'shop' });
  });

  it('one of another workspace is refused, naming it: a restore recovers every database of the cluster', () => {
    assert.throws(
      () => chooseCarrier(facts({ alone: { name: 'shop', workspace: 2 } })),
      /database "shop" of another workspace already archives the WAL of server "pg1".*turn PITR off for "shop" first/,
    );
  });

  it('a streaming carrier stays; one turned off streams again unless another took the cluster meanwhile', () => {
    const streaming = { name: 'pg1-postgres', streaming: true };
    const stopped = { name: 'pg1-postgres', streaming: false };
    assert.deepEqual(chooseCarrier(facts({ recorded: streaming })), { kind: 'recorded', name: 'pg1-postgres' });
    assert.deepEqual(chooseCarrier(facts({ recorded: stopped })), { kind: 'recorded', name: 'pg1-postgres' });
    assert.deepEqual(chooseCarrier(facts({ recorded: stopped, alone: { name: 'shop', workspace: 1 } })), {
      kind: 'take-over',
      name: 'shop',
    });
  });
});

describe('server PITR off', () => {
  it("the server's own databases just leave", () => {
    assert.equal(offRefusal('pg1', ['pg1-a', 'pg1-b'], ['pg1-a', 'pg1-b', 'pg1-postgres']), null);
  });

  it('is refused while a database registered on its own shares the archive, naming each', () => {
    const refusal = offRefusal('pg1', ['pg1-a', 'reports', 'shop'], ['pg1-a']);
    assert.ok(refusal);
    assert.equal(refusal.kind, 'conflict');
    assert.match(refusal.message, /also what "reports", "shop" restore from.*hindsight db pitr reports off/);
  });
});

describe('server runs and the carrier', () => {
  it('the registered connection database postgres is backed up only with --include-postgres', () => {
    const carrier = { name: 'pg1-postgres', datname: 'postgres' };
    assert.equal(backedUpByRuns(carrier, 'pg1-postgres', false), false);
    assert.equal(backedUpByRuns(carrier, 'pg1-postgres', true), true);
    assert.equal(backedUpByRuns({ name: 'pg1-shop', datname: 'shop' }, 'pg1-shop', false), true);
    assert.equal(backedUpByRuns({ name: 'pg1-a', datname: 'a' }, 'pg1-postgres', false), true);
  });
});
