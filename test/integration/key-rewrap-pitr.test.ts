/**
 * `hindsight key rotate` across every kind of object and two storages: a database with a logical
 * backup (dump and roles object), a base backup and archived WAL, copied to two local storages.
 * After a rotation every object in both storages names the new key, and both a logical restore and
 * a point-in-time restore give back the same tables (hashes); after `--reencrypt`, no object of any
 * kind opens with a retired key, neither as stored nor with the header it had before.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { decodeHeader, headerLength } from '../../lib/crypto/backup-header.ts';
import { DecryptStream } from '../../lib/crypto/chunked-gcm.ts';
import type { SecretKey } from '../../lib/crypto/secret-key.ts';
import { targetUrl } from '../../lib/pg/connection.ts';
import { createAuthz, operatorActor } from '../../services/authz.ts';
import { rotateAndRewrap } from '../../services/key-rewrap.ts';
import type { KeyServiceDeps } from '../../services/key-rotation.ts';
import type { WalArchiverInput } from '../../temporal/contracts/pitr.ts';
import { tableHashes, type TableHashes } from '../support/guide-platform.ts';
import {
  restore,
  startPitrSource,
  stopArchiver,
  stopPitrPlatform,
  takeBaseBackup,
  waitUntilArchived,
  writeRows,
  type PitrSource,
} from '../support/pitr-fixture.ts';
import { startPlatform, type Platform } from '../support/platform.ts';

const DATABASE = 'journal';
const operator = operatorActor('test');

/** Decrypts `bytes` with `key` alone; the refusal's message, or '' when it decrypted. */
async function refusalWith(bytes: Buffer, key: SecretKey): Promise<string> {
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  return pipeline(Readable.from([bytes]), new DecryptStream(key), sink).then(
    () => '',
    (error: Error) => error.message,
  );
}

const split = (bytes: Buffer) => {
  const length = headerLength(bytes)!;
  return { header: bytes.subarray(0, length), chunks: bytes.subarray(length) };
};

/** The kind of an object, by its key: what the test must have met in storage. */
const kindOf = (key: string) =>
  /\.dump\.hsb$/.test(key)
    ? 'dump'
    : /\.roles\.hsb$/.test(key)
      ? 'roles'
      : /^pitr\/\d+\/wal\//.test(key)
        ? 'wal'
        : /^pitr\/\d+\/base\//.test(key)
          ? 'base'
          : 'other';

describe('key rotate: logical backups, base backups and WAL in two storages', () => {
  let platform: Platform;
  let source: PitrSource;
  let deps: KeyServiceDeps;
  let backupId: string;
  let atBackup: TableHashes;
  let atEnd: TableHashes;
  let storageDirs: string[];
  const restoredDirs: string[] = [];

  /** Every stored object of both storages, by `<dir>|<key>`, with its bytes now. */
  async function storedObjects(): Promise<Map<string, Buffer>> {
    const objects = new Map<string, Buffer>();
    for (const dir of storageDirs) {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      for (const e of entries.filter((x) => x.isFile() && x.name.endsWith('.hsb'))) {
        const file = path.join(e.parentPath, e.name);
        objects.set(`${dir}|${path.relative(dir, file)}`, await readFile(file));
      }
    }
    return objects;
  }

  async function bothRestoresWork(label: string): Promise<void> {
    const into = `journal_${label}`;
    await (await platform.ops.startRestore({ database: DATABASE, backupId, to: { database: into } })).result();
    assert.deepEqual(await tableHashes({ ...source.target, database: into }), atBackup, `logical restore (${label})`);
    const dir = path.join(platform.dir, `pitr-${label}`);
    restoredDirs.push(dir);
    const outcome = await restore(platform, { database: DATABASE, target: 'latest', to: { directory: dir } }, label);
    const restored = { ...source.target, host: '127.0.0.1', port: outcome.port!, sslmode: 'disable' as const };
    assert.deepEqual(await tableHashes(restored), atEnd, `point-in-time restore (${label})`);
  }

  before(async () => {
    platform = await startPlatform();
    source = await startPitrSource(platform, DATABASE);
    await source.query(
      'create table accounts (id int primary key, owner text); insert into accounts select g, md5(g::text) from generate_series(1, 2000) g',
    );
    const second = path.join(platform.dir, 'second-storage');
    await platform.runtime.catalog.upsertStorage('second', { type: 'local', path: second });
    storageDirs = [platform.backupsDir, second];
    await platform.startWorker();
    deps = { runtime: platform.runtime, authz: createAuthz(platform.runtime.catalog.access) };
    await platform.ops.addDatabase({
      name: DATABASE,
      url: targetUrl(source.target),
      storages: ['local', 'second'],
      verifyAfterBackup: false,
    });
    await platform.runtime.catalog.wal.updateSettings(DATABASE, { enabled: true, partialIntervalMs: 500 });
    const args: WalArchiverInput = { database: DATABASE };
    await platform.client.workflow.start('walArchiver', {
      taskQueue: platform.config.taskQueue,
      workflowId: `wal/${DATABASE}`,
      args: [args],
    });
    await takeBaseBackup(platform, DATABASE, 'first');
    atBackup = await tableHashes(source.target);
    backupId = (await (await platform.ops.startBackup(DATABASE)).result()).backupId;
    await writeRows(source, 1000, 100);
    await waitUntilArchived(platform, source, 60_000);
    // A running WAL stream keeps the key it started with: stopped, everything it wrote is stored.
    await stopArchiver(platform, DATABASE);
    atEnd = await tableHashes(source.target);
  });

  after(async () => {
    await stopPitrPlatform({ platform, source, database: DATABASE, restoredDirs });
  });

  it('moves every object of every kind in both storages onto the new key, and both restores work', async () => {
    const { keyId, rewrap } = await rotateAndRewrap(deps, operator, { reencrypt: false });
    const objects = await storedObjects();
    const kinds = new Set([...objects.keys()].map((k) => kindOf(k.split('|')[1]!)));
    for (const kind of ['dump', 'roles', 'wal', 'base'] as const)
      assert.ok(kinds.has(kind), `${kind} objects in storage: ${[...objects.keys()].join(', ')}`);
    for (const dir of storageDirs)
      assert.ok(
        [...objects.keys()].some((k) => k.startsWith(`${dir}|`) && k.endsWith('.dump.hsb')),
        dir,
      );
    assert.equal(rewrap.objects.rewrap, objects.size, 'every stored object was rewrapped');
    for (const [key, bytes] of objects) assert.equal(decodeHeader(bytes).wrappedKey?.keyRef, keyId, key);
    await bothRestoresWork('rewrapped');
  });

  it('--reencrypt leaves no object of any kind that a retired key opens', async () => {
    const retired = platform.runtime.keyring.current();
    const before = await storedObjects();
    const { keyId, rewrap } = await rotateAndRewrap(deps, operator, { reencrypt: true });
    const now = await storedObjects();
    assert.equal(rewrap.objects.reencrypt, now.size);
    for (const [key, bytes] of now) {
      const old = split(before.get(key)!);
      assert.equal(decodeHeader(bytes).wrappedKey?.keyRef, keyId, key);
      assert.ok(!split(bytes).chunks.equals(old.chunks), `${key}: new data key, new chunks`);
      assert.match(await refusalWith(bytes, retired), /but the key in use is/, `${key} as stored`);
      const forged = Buffer.concat([old.header, split(bytes).chunks]);
      assert.match(await refusalWith(forged, retired), /failed authentication/, `${key} with its header of before`);
    }
    await bothRestoresWork('reencrypted');
  });
});
