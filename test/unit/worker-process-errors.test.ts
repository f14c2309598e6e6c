/**
 * The worker closing its Temporal client while the client retries a call to a server that went
 * away: the retry throws "Channel has been shut down" from a timer, nothing awaiting it. Bare, that
 * kills the process with a stack trace; under the worker's handlers it is dropped once the worker is
 * stopping, and otherwise ends the process with one clean line and exit code 1. A real client, its
 * own retry interceptor, a port nothing listens on (test/fixtures/worker/closed-channel-retry.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';

function runFixture(mode: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['test/fixtures/worker/closed-channel-retry.ts', mode],
      { env: { ...process.env, HINDSIGHT_LOG_PRETTY: '0' }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

describe("the worker's errors that nothing awaited", () => {
  it('without the handlers, a retry after close crashes the process', async () => {
    const { code, output } = await runFixture('bare');
    assert.equal(code, 1);
    assert.match(output, /Error: Channel has been shut down/);
    assert.doesNotMatch(output, /ended normally/);
  });

  it('once the worker is stopping, the retry after close is dropped and the process ends normally', async () => {
    const { code, output } = await runFixture('stopping');
    assert.equal(code, 0, output);
    assert.match(output, /ended normally/);
    assert.doesNotMatch(output, /worker failed/);
  });

  it('while the worker runs, such an error ends it with one line saying so, exit code 1', async () => {
    const { code, output } = await runFixture('running');
    assert.equal(code, 1);
    const failed = output
      .split('\n')
      .filter((line) => line.includes('"level":50'))
      .map((line) => JSON.parse(line) as { msg: string; err: { message: string } });
    assert.deepEqual(
      failed.map((f) => [f.msg, f.err.message]),
      [['worker failed: an error no task handled; exiting so that it is started again', 'Channel has been shut down']],
    );
  });
});
