/**
 * The rebuild's bounded reads and chunked writes (lib/catalog/rebuild/bounded.ts): never more than
 * the limit at once, results in input order whatever the timing, the first error rethrown after the
 * running calls end; chunks that keep order, respect the weight and never hold one key twice.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { chunked, mapBounded } from '../../lib/catalog/rebuild/bounded.ts';

describe('mapBounded', () => {
  it('runs at most `limit` calls at once and returns results in input order', async () => {
    let running = 0;
    let most = 0;
    const items = Array.from({ length: 40 }, (_, i) => i);
    const results = await mapBounded(items, 5, async (item, index) => {
      running += 1;
      most = Math.max(most, running);
      // Later items finish first: order must come from the index, not from completion.
      await sleep((40 - item) % 7);
      running -= 1;
      return `${item}:${index}`;
    });
    assert.equal(most, 5);
    assert.deepEqual(
      results,
      items.map((i) => `${i}:${i}`),
    );
  });

  it('starts no new call after a failure and rethrows the first error once the running ones end', async () => {
    const started: number[] = [];
    let finished = 0;
    await assert.rejects(
      mapBounded(
        Array.from({ length: 100 }, (_, i) => i),
        3,
        async (item) => {
          started.push(item);
          await sleep(item === 4 ? 1 : 5);
          finished += 1;
          if (item === 4) throw new Error('object 4 is unreadable');
          if (item === 5) throw new Error('object 5 too');
          return item;
        },
      ),
      /object 4 is unreadable/,
    );
    assert.ok(started.length < 10, `started ${started.length} of 100`);
    assert.equal(finished, started.length, 'every started call ended before the rejection');
  });

  it('handles no items, and refuses a limit below one', async () => {
    assert.deepEqual(await mapBounded([], 4, async () => 1), []);
    await assert.rejects(
      mapBounded([1], 0, async () => 1),
      RangeError,
    );
  });
});

describe('chunked', () => {
  it('splits in order by count, and by weight with an over-heavy item alone', () => {
    assert.deepEqual(chunked([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    const groups = [['a'], ['b', 'c'], ['d', 'e', 'f', 'g', 'h'], ['i']];
    assert.deepEqual(chunked(groups, 3, { weight: (g) => g.length }), [
      [['a'], ['b', 'c']],
      [['d', 'e', 'f', 'g', 'h']],
      [['i']],
    ]);
  });

  it('ends a chunk before an item that shares a key with it, keeping order', () => {
    const rows = [
      { segment: 1, partial: true },
      { segment: 2, partial: false },
      { segment: 1, partial: false },
      { segment: 3, partial: false },
    ];
    const chunks = chunked(rows, 100, { keys: (r) => [String(r.segment)] });
    assert.deepEqual(
      chunks.map((c) => c.map((r) => r.segment)),
      [
        [1, 2],
        [1, 3],
      ],
    );
    assert.deepEqual(chunks.flat(), rows);
  });

  it('refuses a limit below one', () => {
    assert.throws(() => chunked([1], 0), RangeError);
  });
});
