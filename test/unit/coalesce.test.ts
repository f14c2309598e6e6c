import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coalesced } from '../../lib/coalesce.ts';

describe('coalesced calls', () => {
  it('runs once for every call made while one is in flight or within the window after it began', async () => {
    let calls = 0;
    let clock = 1000;
    let release!: () => void;
    const call = coalesced(
      () => {
        calls += 1;
        return new Promise<void>((resolve) => (release = resolve));
      },
      5000,
      () => clock,
    );
    const waiting = Array.from({ length: 16 }, () => call());
    assert.equal(calls, 1, 'sixteen callers at once, one call');
    release();
    await Promise.all(waiting);
    clock += 4999;
    await call();
    assert.equal(calls, 1, 'still within the window');
    clock += 1;
    const next = call();
    assert.equal(calls, 2, 'the window over: a new call');
    release();
    await next;
  });

  it('a call that lasts past the window is still shared until it ends', async () => {
    let calls = 0;
    let clock = 0;
    let release!: () => void;
    const call = coalesced(
      () => {
        calls += 1;
        return new Promise<void>((resolve) => (release = resolve));
      },
      10,
      () => clock,
    );
    const first = call();
    clock = 60_000;
    const second = call();
    assert.equal(calls, 1);
    release();
    await Promise.all([first, second]);
  });

  it('forgets a failed call, so that the next caller tries again', async () => {
    let calls = 0;
    const call = coalesced(async () => {
      calls += 1;
      if (calls === 1) throw new Error('Temporal unreachable');
    }, 60_000);
    await assert.rejects(call(), /Temporal unreachable/);
    await call();
    assert.equal(calls, 2);
  });
});
