/**
 * Runs test files through node:test's run(), each in a process of its own, `concurrency` at a time, in exactly the
 * order given: `node --test` sorts the files it is handed by name, which put the longest integration files last and
 * left the other slots idle while they ran. The spec report goes to stdout as with `node --test --test-reporter=spec`;
 * with --timed, each file's wall time follows it (scripts/test-times.ts). Exits 1 when any test failed.
 *
 *   scripts/node scripts/run-test-files.ts <concurrency> [--timed] <file>...
 */
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { z } from 'zod';
import { formatTimes, recordEvent, type TestEvent, type TestTimes } from './test-times.ts';

const [concurrencyArg, ...rest] = process.argv.slice(2);
const concurrency = z.coerce.number().int().min(1).parse(concurrencyArg);
const timed = rest[0] === '--timed';
const files = timed ? rest.slice(1) : rest;

const started = Date.now();
const times: TestTimes = { files: new Map(), counts: { passed: 0, failed: 0, skipped: 0, todo: 0, cancelled: 0 } };
// forceExit: a file's process ends when its last test (and after hook) has, not when a forgotten timer fires: a
// 3-minute timeout left pending by a race held its slot for 80 s after the tests had all passed.
const stream = run({ files, concurrency, isolation: 'process', forceExit: true });
stream.on('test:fail', () => {
  process.exitCode = 1;
});
for (const type of ['test:complete', 'test:pass', 'test:fail'] as const)
  stream.on(type, (data: TestEvent['data']) => recordEvent(times, { type, data }));
const report = stream.compose(spec);
report.pipe(process.stdout, { end: false });
report.once('end', () => {
  if (timed) process.stdout.write(formatTimes(times, Date.now() - started));
});
