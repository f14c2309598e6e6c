/**
 * The environment the supervisor starts the worker with: glibc reads MALLOC_ARENA_MAX and V8 its
 * flags at the start of a process, so the settings must be in it, and an operator's own value must win.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  WORKER_MALLOC_ARENA_MAX,
  WORKER_V8_FLAGS,
  withV8Flags,
  workerProcessEnv,
} from '../../lib/supervisor/worker-env.ts';

describe("the worker's environment", () => {
  it('adds two malloc arenas and small semi-spaces to what the worker inherits, keeping the rest', () => {
    assert.equal(WORKER_MALLOC_ARENA_MAX, '2');
    assert.equal(WORKER_V8_FLAGS, '--max-semi-space-size=8');
    assert.deepEqual(workerProcessEnv({ PATH: '/usr/bin', HINDSIGHT_LOG_LEVEL: 'info' }), {
      PATH: '/usr/bin',
      HINDSIGHT_LOG_LEVEL: 'info',
      MALLOC_ARENA_MAX: '2',
      NODE_OPTIONS: '--max-semi-space-size=8',
    });
  });

  it("keeps an operator's own MALLOC_ARENA_MAX", () => {
    assert.equal(workerProcessEnv({ MALLOC_ARENA_MAX: '4' }).MALLOC_ARENA_MAX, '4');
  });

  it("adds the V8 flag after an operator's NODE_OPTIONS, and keeps their own semi-space size", () => {
    assert.equal(
      workerProcessEnv({ NODE_OPTIONS: '--enable-source-maps' }).NODE_OPTIONS,
      '--enable-source-maps --max-semi-space-size=8',
    );
    assert.equal(
      workerProcessEnv({ NODE_OPTIONS: '--max-semi-space-size=32' }).NODE_OPTIONS,
      '--max-semi-space-size=32',
    );
  });

  it('gives the console the V8 flag only, without the allocator setting', () => {
    assert.deepEqual(withV8Flags({ PATH: '/usr/bin' }), { PATH: '/usr/bin', NODE_OPTIONS: '--max-semi-space-size=8' });
  });
});
