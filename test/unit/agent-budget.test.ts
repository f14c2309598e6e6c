import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concurrencyFor } from '../../worker/create-worker.ts';
import { diskEstimate } from '../../activities/verification.ts';

describe('verification agent budget', () => {
  const base = { maxDiskGb: 10, sandboxRoot: '/tmp/x' };

  it('gives every sandbox at least one CPU and 512 MB', () => {
    assert.equal(concurrencyFor({ ...base, maxCpu: 8, maxRamMb: 8192 }), 8);
    assert.equal(concurrencyFor({ ...base, maxCpu: 8, maxRamMb: 1500 }), 2, 'memory bounds it');
    assert.equal(concurrencyFor({ ...base, maxCpu: 2.5, maxRamMb: 8192 }), 2, 'CPUs bound it');
  });

  it('never goes below one job, and an explicit job limit only lowers it', () => {
    assert.equal(concurrencyFor({ ...base, maxCpu: 0.5, maxRamMb: 256 }), 1);
    assert.equal(concurrencyFor({ ...base, maxCpu: 8, maxRamMb: 8192, maxConcurrentJobs: 3 }), 3);
    assert.equal(concurrencyFor({ ...base, maxCpu: 1, maxRamMb: 8192, maxConcurrentJobs: 3 }), 1);
  });

  it('estimates the disk a restore needs from the object and the source size', () => {
    const gb = 1e9;
    assert.ok(diskEstimate(1 * gb, 4 * gb) >= 9 * gb, 'archive plus twice the source');
    assert.ok(diskEstimate(0, 0) > 0, 'a margin even for an empty database');
  });
});
