import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { orphanedBy } from '../../lib/sandbox/docker-engine.ts';
import { currentOwner } from '../../lib/sandbox/owner.ts';

const labels = (owner: { host: string; pid: number; start: string | null }) => ({
  'hindsight.sandbox': 'abc',
  'hindsight.owner.host': owner.host,
  'hindsight.owner.pid': String(owner.pid),
  'hindsight.owner.start': owner.start ?? '',
});

describe('whose docker sandbox is orphaned', () => {
  it("on this host: by the creator's pid and start time", () => {
    const me = currentOwner();
    assert.equal(orphanedBy(labels(me), []), false, 'this live process');
    assert.equal(
      orphanedBy(labels({ ...me, start: 'another-boot/1' }), []),
      true,
      'an earlier process with the same pid',
    );
    assert.equal(orphanedBy(labels({ ...me, pid: 2 ** 22 + 7 }), []), true, 'a pid that no longer runs');
  });

  it('a worker in a container on the same engine: orphaned once that container no longer runs', () => {
    const inContainer = { host: '0123456789ab', pid: 1, start: 'boot/5' };
    assert.equal(
      orphanedBy(labels(inContainer), ['0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef']),
      false,
    );
    assert.equal(
      orphanedBy(labels(inContainer), ['fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210']),
      true,
    );
  });

  it('another machine, or labels that name no owner: left alone', () => {
    assert.equal(orphanedBy(labels({ host: 'db-worker-2.example', pid: 10, start: null }), []), false);
    assert.equal(orphanedBy({ 'hindsight.sandbox': 'abc' }, []), false);
    assert.equal(orphanedBy(undefined, []), false);
  });
});
