/**
 * A node:test reporter, used beside the spec reporter, that prints once the run has ended how long each test file
 * took from its process's start to its end (longest first), the run's total, and how many tests passed, failed or
 * were skipped: where the suite's time goes, to order LONGEST_FIRST in scripts/run-tests.ts and to see what a change
 * to a file or a fixture cost. A file's own wall time is the `test:complete` event the runner reports for the file
 * itself (nesting 0, named by its path), as soon as its process has ended.
 */
import path from 'node:path';

export interface TestEvent {
  type: string;
  data: {
    name?: string;
    nesting?: number;
    file?: string;
    skip?: unknown;
    todo?: unknown;
    details?: { duration_ms?: number; type?: string; error?: { failureType?: string } };
  };
}

export interface TestTimes {
  /** Wall time of each file, in ms, by its path as the runner names it. */
  files: Map<string, number>;
  counts: { passed: number; failed: number; skipped: number; todo: number; cancelled: number };
}

/** The runner's event for a whole file: at nesting 0, named by the file's own path. */
const isFileEvent = (e: TestEvent) =>
  e.data.nesting === 0 &&
  e.data.file !== undefined &&
  e.data.name !== undefined &&
  path.resolve(e.data.name) === e.data.file;

/** Folds one event into `times`: file durations from their `test:complete`, counts from each test's pass or fail. */
export function recordEvent(times: TestTimes, e: TestEvent): void {
  if (e.type === 'test:complete' && isFileEvent(e)) {
    times.files.set(e.data.name!, e.data.details?.duration_ms ?? 0);
    return;
  }
  // Suites (describe) are counted by their tests; a file that fails as a whole (it crashed) counts as one failure.
  if (e.data.details?.type === 'suite') return;
  if (e.type === 'test:pass') {
    if (e.data.skip !== undefined) times.counts.skipped += 1;
    else if (e.data.todo !== undefined) times.counts.todo += 1;
    else times.counts.passed += 1;
  } else if (e.type === 'test:fail') {
    if (e.data.details?.error?.failureType === 'cancelledByParent') times.counts.cancelled += 1;
    else times.counts.failed += 1;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The table printed at the end: each file longest first, then the total and the counts. */
export function formatTimes(times: TestTimes, totalMs: number): string {
  const rows = [...times.files].sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const width = Math.max(0, ...rows.map(([file]) => file.length));
  const { passed, failed, skipped, todo, cancelled } = times.counts;
  const tests = passed + failed + skipped + todo + cancelled;
  return [
    '',
    `wall time of each file (${rows.length} files), longest first:`,
    ...rows.map(([file, ms]) => `  ${file.padEnd(width)}  ${seconds(ms).padStart(8)}`),
    `total: ${seconds(totalMs)} for ${rows.length} files; ${tests} tests: ${passed} passed, ${failed} failed, ` +
      `${cancelled} cancelled, ${skipped} skipped, ${todo} todo`,
    '',
  ].join('\n');
}

export default async function* testTimes(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const started = Date.now();
  const times: TestTimes = {
    files: new Map(),
    counts: { passed: 0, failed: 0, skipped: 0, todo: 0, cancelled: 0 },
  };
  for await (const event of source) recordEvent(times, event);
  yield formatTimes(times, Date.now() - started);
}
