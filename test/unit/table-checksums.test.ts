import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checksumStatement, planFor, planOf, tableChecksumSchema } from '../../lib/pg/table-checksums.ts';

const policy = { fullMaxBytes: 1000, sampleOneIn: 64 };

describe('table checksums: which rows a table is hashed by', () => {
  it('hashes a table up to the limit whole, samples a larger one by its key, counts a larger one without a key', () => {
    assert.deepEqual(planFor({ sizeBytes: 1000, key: null, intKey: false, floats: false }, policy, 17), {
      scope: 'full',
    });
    assert.deepEqual(planFor({ sizeBytes: 1001, key: ['a', 'b'], intKey: false, floats: false }, policy, 17), {
      scope: 'sample',
      key: ['a', 'b'],
      oneIn: 64,
      pick: 'key-md5',
    });
    assert.equal(planFor({ sizeBytes: 1001, key: ['id'], intKey: true, floats: false }, policy, 17).scope, 'sample');
    const none = planFor({ sizeBytes: 1001, key: null, intKey: false, floats: false }, policy, 17);
    assert.equal(none.scope, 'none');
    assert.match(none.scope === 'none' ? none.reason : '', /larger than 1000 bytes and without a primary key/);
  });

  it('only counts a table with float columns on a server before 12, whose floats print otherwise', () => {
    const shape = { sizeBytes: 10, key: ['id'], intKey: true, floats: true };
    assert.equal(planFor(shape, policy, 11).scope, 'none');
    assert.equal(planFor(shape, policy, 12).scope, 'full');
  });

  it('a manifest entry gives back the plan it was taken with, and is validated', () => {
    const sample = tableChecksumSchema.parse({ scope: 'sample', sum: '-12', hashedRows: 3, oneIn: 8, key: ['id'] });
    assert.deepEqual(planOf(sample), { scope: 'sample', key: ['id'], oneIn: 8, pick: 'key-md5' });
    assert.throws(() => tableChecksumSchema.parse({ scope: 'full', sum: '1; drop table x', hashedRows: 1 }));
  });

  it('quotes every name and filters a sample by the key alone', () => {
    const sql = checksumStatement('we"ird', 'Table', { scope: 'sample', key: ['Id'], oneIn: 8, pick: 'key-md5' });
    assert.match(sql, /from only "we""ird"\."Table" t$/);
    assert.match(
      sql,
      /filter \(where \('x0' \|\| substr\(md5\(row\(t\."Id"\)::text\), 1, 7\)\)::bit\(32\)::int % 8 = 0\)/,
    );
    assert.doesNotMatch(checksumStatement('s', 't', { scope: 'full' }), /filter/);
    const byInt = checksumStatement('s', 't', { scope: 'sample', key: ['id'], oneIn: 64, pick: 'int-key' });
    assert.match(byInt, /abs\(mod\(t\."id"::bigint, 2147483647\)\) \* 2654435761\) % 4294967296 < 67108864/);
  });
});
