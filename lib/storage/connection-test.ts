import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HindsightError, errorMessage, type ErrorKind } from '../errors.ts';
import type { StorageDriver } from './contract.ts';
import { readAll } from './shared/streams.ts';

export type ConnectionTestStage = 'settings' | 'write' | 'read' | 'compare' | 'remove';

export type ConnectionTestResult =
  | { ok: true; elapsedMs: number }
  | { ok: false; stage: ConnectionTestStage; kind: ErrorKind; message: string; elapsedMs: number };

/** Where the probe object goes; a key no backup can ever have, and never locked (it is not a backup). */
export const CONNECTION_TEST_DIR = '.hindsight-connection-test';

/**
 * Writes a small object, reads it back, compares and deletes it: the three things a backup and a
 * restore need. The first failure is reported with its stage and the driver's own words.
 */
export async function testStorageConnection(driver: StorageDriver): Promise<ConnectionTestResult> {
  const started = Date.now();
  const key = `${CONNECTION_TEST_DIR}/${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}`;
  const payload = randomBytes(4096);
  let stage: ConnectionTestStage = 'settings';
  try {
    await driver.checkSettings?.();
    stage = 'write';
    const write = await driver.openWrite(key);
    try {
      await pipeline(Readable.from([payload]), write.stream);
      await write.commit();
    } catch (error) {
      await write.abort().catch(() => undefined);
      throw error;
    }
    stage = 'read';
    const back = await readAll(await driver.openRead(key));
    stage = 'compare';
    if (!back.equals(payload)) {
      throw new HindsightError(
        'integrity',
        `storage ${driver.label}: the test object read back differs from what was written (${back.length} of ${payload.length} bytes)`,
      );
    }
    stage = 'remove';
    await driver.remove(key);
    return { ok: true, elapsedMs: Date.now() - started };
  } catch (error) {
    if (stage === 'read' || stage === 'compare') await driver.remove(key).catch(() => undefined);
    const kind: ErrorKind = error instanceof HindsightError ? error.kind : 'tool_failed';
    return { ok: false, stage, kind, message: errorMessage(error), elapsedMs: Date.now() - started };
  }
}
