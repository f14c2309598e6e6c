import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { describeStorageContract } from '../support/storage-contract.ts';
import { rm } from 'node:fs/promises';

async function newStorage() {
  const root = await mkdtemp(path.join(tmpdir(), 'hindsight-local-'));
  return { root, storage: createLocalStorage({ name: 'test', root }) };
}

describeStorageContract('local', async () => {
  const { root, storage } = await newStorage();
  return { driver: storage, cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('local storage driver', () => {
  it('makes an object visible only when committed', async () => {
    const { root, storage } = await newStorage();
    const write = await storage.openWrite('db/a.bin');
    await new Promise<void>((resolve) => write.stream.write(Buffer.from('half'), () => resolve()));
    assert.equal(await storage.stat('db/a.bin'), undefined, 'nothing under the key before commit');
    assert.deepEqual(await storage.list('db'), []);
    write.stream.end(Buffer.from('-and-rest'));
    const info = await write.commit();
    assert.equal(info.size, 13);
    assert.equal(await readFile(path.join(root, 'db', 'a.bin'), 'utf8'), 'half-and-rest');
    assert.deepEqual(await readdir(path.join(root, 'db')), ['a.bin'], 'no temporary file remains');
  });

  it('leaves nothing behind when a write is aborted', async () => {
    const { root, storage } = await newStorage();
    const write = await storage.openWrite('db/b.bin');
    write.stream.write(Buffer.alloc(1000));
    await write.abort();
    assert.deepEqual(await readdir(path.join(root, 'db')), []);
  });

  it('sweeps the leftovers of a write that never ended, only for the key given', async () => {
    const { root, storage } = await newStorage();
    const killed = await storage.openWrite('db/c.bin');
    await new Promise<void>((resolve) => killed.stream.write(Buffer.alloc(10), () => resolve()));
    const other = await storage.openWrite('db/d.bin');
    await new Promise<void>((resolve) => other.stream.write(Buffer.alloc(10), () => resolve()));
    assert.equal(await storage.sweepAbandonedWrites('db/c.bin', 0), 1);
    const left = await readdir(path.join(root, 'db'));
    assert.equal(left.length, 1);
    assert.match(left[0]!, /^\.d\.bin\.partial-/);
    await other.abort();
  });

  it('reads back what was written, and names a missing key', async () => {
    const { storage } = await newStorage();
    const write = await storage.openWrite('x/y/z.txt');
    await pipeline(Readable.from([Buffer.from('hello')]), write.stream);
    await write.commit();
    const chunks: Buffer[] = [];
    for await (const c of await storage.openRead('x/y/z.txt')) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'hello');
    assert.deepEqual(
      (await storage.list('x')).map((o) => o.key),
      ['x/y/z.txt'],
    );
    await assert.rejects(
      storage.openRead('x/missing'),
      /storage local "test": unable to read 'x\/missing': .*check the key/,
    );
  });

  it('refuses keys that climb out of the root', async () => {
    const { storage } = await newStorage();
    await assert.rejects(storage.openWrite('../etc/passwd'), /not a safe relative path/);
    await assert.rejects(storage.openWrite('/abs'), /not a safe relative path/);
  });
});
