import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeConfigChange } from '../../lib/config-change.ts';

describe('a partial configuration change', () => {
  const stored = { type: 's3', bucket: 'b', endpoint: 'http://old', prefix: 'p/', secretAccessKey: 'kept-secret' };

  it('replaces the fields given, keeps the others (secrets too) and drops a field set to null', () => {
    const merged = mergeConfigChange('storage', 'offsite', stored, {
      endpoint: 'http://new',
      prefix: null,
      type: 's3',
    });
    assert.deepEqual(merged, { type: 's3', bucket: 'b', endpoint: 'http://new', secretAccessKey: 'kept-secret' });
    assert.equal(stored.endpoint, 'http://old', 'the stored object is left as it was');
  });

  for (const kind of ['storage', 'notifier'] as const) {
    it(`refuses a ${kind} type change, naming the ${kind} and the fix`, () => {
      assert.throws(
        () => mergeConfigChange(kind, 'x', stored, { type: 'local' }),
        new RegExp(`${kind} "x" is of type s3 and its type cannot change to local: add a new ${kind}`),
      );
    });
  }
});
