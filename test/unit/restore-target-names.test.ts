import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { restoreBackupInput } from '../../temporal/contracts/restore.ts';

/** A dump is hostile content: it never loads into a database every later one is copied from, nor into `postgres`. */
describe('logical restore targets', () => {
  const problem = (to: unknown) => {
    const parsed = restoreBackupInput.safeParse({ database: 'demo', to });
    return parsed.success ? 'accepted' : parsed.error.issues.map((i) => i.message).join('; ');
  };

  it('refuses template0, template1 and postgres, by name or in a URL, naming the fix', () => {
    for (const name of ['template0', 'template1', 'postgres']) {
      assert.equal(
        problem({ database: name }),
        `to.database "${name}" is one of PostgreSQL's own databases (template0, template1, postgres): restore into a new database instead`,
      );
      assert.match(
        problem({ url: `postgres://admin@db2:5432/${name}` }),
        new RegExp(`the database "${name}" of to\\.url is one of PostgreSQL's own databases`),
      );
    }
    assert.match(
      problem({ url: 'postgres://admin@db2:5432' }),
      /the database "postgres" of to\.url/,
      'a URL without a database means postgres',
    );
  });

  it('accepts any other database', () => {
    assert.equal(problem({ database: 'demo_copy' }), 'accepted');
    assert.equal(problem({ database: 'Template1' }), 'accepted', 'names are case-sensitive in PostgreSQL');
    assert.equal(problem({ url: 'postgres://admin@db2:5432/demo_copy' }), 'accepted');
  });
});
