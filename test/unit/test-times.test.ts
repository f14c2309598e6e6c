/**
 * The reporter that prints each test file's wall time at the end of a run (scripts/test-times.ts), fed the
 * events node:test emits for two files side by side: a file's time is that of the runner's own event for it,
 * never a sum of its tests, and suites are not counted as tests.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import testTimes from '../../scripts/test-times.ts';

const A = 'test/integration/a.test.ts';
const B = 'test/integration/b.test.ts';
const event = (type: string, name: string, file: string, nesting: number, extra: Record<string, unknown> = {}) => ({
  type,
  data: { name, file: path.resolve(file), nesting, ...extra },
});

async function report(events: Array<ReturnType<typeof event>>): Promise<string> {
  async function* source() {
    yield* events;
  }
  let text = '';
  for await (const chunk of testTimes(source())) text += chunk;
  return text;
}

describe('the test-times reporter', () => {
  it('lists each file by its own wall time, longest first, and counts tests but not suites', async () => {
    const text = await report([
      event('test:complete', 'fast', A, 1, { details: { duration_ms: 900, type: 'test' } }),
      event('test:pass', 'fast', A, 1, { details: { duration_ms: 900, type: 'test' } }),
      event('test:fail', 'broken', A, 1, { details: { type: 'test', error: { failureType: 'testCodeFailure' } } }),
      event('test:pass', 'later', A, 1, { skip: 'no tmpfs', details: { type: 'test' } }),
      event('test:fail', 'suite', A, 0, { details: { type: 'suite', error: { failureType: 'subtestsFailed' } } }),
      event('test:complete', A, A, 0, { details: { duration_ms: 12_340, type: 'test' } }),
      event('test:pass', 'slow', B, 0, { details: { duration_ms: 40_000, type: 'test' } }),
      event('test:fail', 'cut', B, 0, { details: { type: 'test', error: { failureType: 'cancelledByParent' } } }),
      event('test:complete', B, B, 0, { details: { duration_ms: 61_060, type: 'test' } }),
    ]);
    const lines = text.split('\n').filter((l) => l.startsWith('  '));
    assert.deepEqual(
      lines.map((l) => l.trim().split(/\s+/)),
      [
        [B, '61.1', 's'],
        [A, '12.3', 's'],
      ],
    );
    assert.match(text, /wall time of each file \(2 files\), longest first:/);
    assert.match(text, /for 2 files; 5 tests: 2 passed, 1 failed, 1 cancelled, 1 skipped, 0 todo/);
  });

  it('counts a file that failed as a whole (it crashed at import) as one failed test', async () => {
    const text = await report([
      event('test:complete', A, A, 0, { details: { duration_ms: 80, type: 'test' } }),
      event('test:fail', A, A, 0, { details: { duration_ms: 80, type: 'test' } }),
    ]);
    assert.match(text, /1 tests: 0 passed, 1 failed/);
    assert.match(text, new RegExp(`  ${A}  +0\\.1 s`));
  });
});
