import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capturedLogger } from '../support/platform.ts';

describe('logger', () => {
  it('prints the message of an error logged under `err` or `error` (the Temporal SDK uses `error`)', () => {
    const lines: string[] = [];
    const logger = capturedLogger('test', (line) => lines.push(line));
    logger.error({ error: new Error('activity dumpDatabaseToStorage failed: disk full') }, 'Activity failed');
    logger.error({ err: new Error('storage "s3" unreachable') }, 'upload failed');
    const [sdk, ours] = lines.map((l) => JSON.parse(l) as { error?: { message: string }; err?: { message: string } });
    assert.equal(sdk?.error?.message, 'activity dumpDatabaseToStorage failed: disk full');
    assert.equal(ours?.err?.message, 'storage "s3" unreachable');
  });

  it('redacts secret fields wherever they appear', () => {
    const lines: string[] = [];
    const logger = capturedLogger('test', (line) => lines.push(line));
    logger.info({ password: 'hunter2', storage: { secretAccessKey: 'AKIA-SECRET' } }, 'saved');
    assert.doesNotMatch(lines.join(''), /hunter2|AKIA-SECRET/);
    assert.match(lines.join(''), /\[redacted\]/);
  });
});
