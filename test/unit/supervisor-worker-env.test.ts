/**
 * The environment the supervisor starts the worker with: glibc reads MALLOC_ARENA_MAX at the start
 * of a process, so the setting must be in it, and an operator's own value must win.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WORKER_MALLOC_ARENA_MAX, workerProcessEnv } from '../../lib/supervisor/worker-env.ts';

describe("the worker's environment", () => {
  it('adds two malloc arenas to what the worker inherits, keeping the rest', () => {
    assert.equal(WORKER_MALLOC_ARENA_MAX, '2');
    assert.deepEqual(workerProcessEnv({ PATH: '/usr/bin', HINDSIGHT_LOG_LEVEL: 'info' }), {
      PATH: '/usr/bin',
      HINDSIGHT_LOG_LEVEL: 'info',
      MALLOC_ARENA_MAX: '2',
    });
  });

  it("keeps an operator's own MALLOC_ARENA_MAX", () => {
    assert.equal(workerProcessEnv({ MALLOC_ARENA_MAX: '4' }).MALLOC_ARENA_MAX, '4');
  });
});
