import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { HindsightError } from '../../lib/errors.ts';
import { testStorageConnection } from '../../lib/storage/connection-test.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { putObject } from './storage-objects.ts';
import { readAll } from './streams.ts';

export interface ContractSubject {
  driver: StorageDriver;
  /** Stops servers and removes what the subject created. */
  cleanup(): Promise<void>;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * The behaviour every storage driver must show, run against a real server of its kind. A driver
 * passes only if nothing half-written is ever visible and every error names its kind.
 */
export function describeStorageContract(name: string, open: () => Promise<ContractSubject>): void {
  describe(`storage contract: ${name}`, () => {
    let subject: ContractSubject;
    let driver: StorageDriver;
    const run = randomBytes(3).toString('hex');
    const k = (key: string) => `contract-${run}/${key}`;

    before(async () => {
      subject = await open();
      driver = subject.driver;
    });
    after(async () => {
      await driver?.close?.();
      await subject?.cleanup();
    });

    it('shows an object only once it is committed, and reads back what was written', async () => {
      const write = await driver.openWrite(k('a/one.bin'));
      const body = randomBytes(300 * 1024);
      await new Promise<void>((resolve, reject) =>
        write.stream.write(body.subarray(0, 1000), (e) => (e ? reject(e) : resolve())),
      );
      assert.equal(await driver.stat(k('a/one.bin')), undefined, 'nothing under the key before commit');
      assert.deepEqual(await driver.list(k('a')), [], 'nothing listed before commit');
      write.stream.end(body.subarray(1000));
      const info = await write.commit();
      assert.equal(info.key, k('a/one.bin'));
      assert.equal(info.size, body.length);
      const stat = await driver.stat(k('a/one.bin'));
      assert.equal(stat?.size, body.length);
      assert.ok(stat.modifiedAt instanceof Date && !Number.isNaN(stat.modifiedAt.getTime()));
      assert.equal(sha(await readAll(await driver.openRead(k('a/one.bin')))), sha(body));
    });

    it('round-trips a multi-part object (12 MiB) byte for byte', async () => {
      const body = randomBytes(12 * 1024 * 1024 + 12345);
      await putObject(driver, k('big/blob.bin'), body);
      assert.equal((await driver.stat(k('big/blob.bin')))?.size, body.length);
      assert.equal(sha(await readAll(await driver.openRead(k('big/blob.bin')))), sha(body));
    });

    it('reads a byte range', async () => {
      const body = randomBytes(200_000);
      await putObject(driver, k('range.bin'), body);
      assert.ok(
        (await readAll(await driver.openRead(k('range.bin'), { start: 1000, end: 5000 }))).equals(
          body.subarray(1000, 5000),
        ),
      );
      assert.ok(
        (await readAll(await driver.openRead(k('range.bin'), { start: 199_990 }))).equals(body.subarray(199_990)),
      );
    });

    it('leaves nothing visible when a write is aborted', async () => {
      const write = await driver.openWrite(k('aborted/x.bin'));
      await new Promise<void>((resolve, reject) =>
        write.stream.write(randomBytes(64 * 1024), (e) => (e ? reject(e) : resolve())),
      );
      await write.abort();
      assert.equal(await driver.stat(k('aborted/x.bin')), undefined);
      assert.deepEqual(await driver.list(k('aborted')), []);
    });

    it('never shows a write that was abandoned, and can sweep it', async () => {
      const write = await driver.openWrite(k('abandoned/x.bin'));
      await new Promise<void>((resolve, reject) =>
        write.stream.write(randomBytes(64 * 1024), (e) => (e ? reject(e) : resolve())),
      );
      // Neither committed nor aborted: what a killed worker leaves behind.
      assert.deepEqual(await driver.list(k('abandoned')), []);
      const swept = await driver.sweepAbandonedWrites(k('abandoned/x.bin'), 0);
      assert.ok(swept >= 0);
      write.stream.destroy();
      assert.deepEqual(await driver.list(k('abandoned')), []);
      await putObject(driver, k('abandoned/x.bin'), Buffer.from('after sweep'));
      assert.equal((await readAll(await driver.openRead(k('abandoned/x.bin')))).toString(), 'after sweep');
    });

    it('lists by directory, at any depth, sorted, and not its siblings', async () => {
      await putObject(driver, k('dir/b.txt'), Buffer.from('b'));
      await putObject(driver, k('dir/a.txt'), Buffer.from('a'));
      await putObject(driver, k('dir/sub/c.txt'), Buffer.from('c'));
      await putObject(driver, k('dirx/d.txt'), Buffer.from('d'));
      const listed = await driver.list(k('dir'));
      assert.deepEqual(
        listed.map((o) => o.key),
        [k('dir/a.txt'), k('dir/b.txt'), k('dir/sub/c.txt')],
      );
      assert.deepEqual(
        listed.map((o) => o.size),
        [1, 1, 1],
      );
    });

    it('replaces an object written twice under the same key', async () => {
      await putObject(driver, k('twice.txt'), Buffer.from('first version'));
      await putObject(driver, k('twice.txt'), Buffer.from('second'));
      assert.equal((await readAll(await driver.openRead(k('twice.txt')))).toString(), 'second');
    });

    it('names a missing key with kind not_found, and removes idempotently', async () => {
      assert.equal(await driver.stat(k('missing.bin')), undefined);
      await assert.rejects(
        async () => readAll(await driver.openRead(k('missing.bin'))),
        (error: unknown) => {
          assert.ok(error instanceof HindsightError, `a HindsightError, got ${String(error)}`);
          assert.equal(error.kind, 'not_found');
          assert.match(error.message, new RegExp(`storage ${driver.label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
          return true;
        },
      );
      await putObject(driver, k('gone.txt'), Buffer.from('x'));
      await driver.remove(k('gone.txt'));
      assert.equal(await driver.stat(k('gone.txt')), undefined);
      await driver.remove(k('gone.txt'));
    });

    it('refuses keys that climb out of the root', async () => {
      await assert.rejects(driver.openWrite('../escape.txt'), /not a safe relative path/);
    });

    it('passes the connection test and leaves no probe behind', async () => {
      const result = await testStorageConnection(driver);
      assert.deepEqual({ ok: result.ok }, { ok: true }, JSON.stringify(result));
      assert.deepEqual(await driver.list('.hindsight-connection-test'), []);
    });
  });
}
